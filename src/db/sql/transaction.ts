// A transaction on one pool client of the pg pool Prisma's adapter runs on: the page write (contacts, the
// pass's extras, the checkpoint, the run's figures) goes through it as plain SQL, with no ORM in the middle.
import type pg from "pg";

export type { PoolClient } from "pg";

/** Runs `body` between BEGIN and COMMIT; any error rolls back (a client whose rollback fails is discarded). */
export async function inTransaction<T>(pool: pg.Pool, body: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query("BEGIN");
    const result = await body(client);
    await client.query("COMMIT");
    return result;
  } catch (error) {
    await client.query("ROLLBACK").catch((e: Error) => {
      broken = e;
    });
    throw error;
  } finally {
    client.release(broken);
  }
}
