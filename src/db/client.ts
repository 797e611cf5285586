// Connections to PostgreSQL: Prisma (engine-free, through @prisma/adapter-pg) for the data path, and a
// plain pg pool for what Prisma does not do (multi-statement migrations, session advisory locks).
import pg from "pg";
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "../generated/prisma/client.js";

export type { PrismaClient };

export interface Database {
  prisma: PrismaClient;
  pool: pg.Pool;
  url: string;
  close(): Promise<void>;
}

export function openDatabase(url: string, options: { poolSize?: number } = {}): Database {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? 4,
    connectionTimeoutMillis: 10_000,
    application_name: "contacts-sync",
  });
  survivesServerLoss(pool);
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  let closed = false;
  return {
    prisma,
    pool,
    url,
    async close() {
      if (closed) return;
      closed = true;
      await prisma.$disconnect().catch(() => undefined);
      await pool.end().catch(() => undefined);
    },
  };
}

/**
 * A server that goes away (restart, failover, `pg_ctl stop`) sends each connection an error. pg emits it on
 * the client, and an error event nobody listens to ends the process: the pool listens only while a client is
 * idle, so a client checked out between two queries (a remap batch, a lock, a migration) would crash the
 * worker. Every client gets a listener of its own from the start; the query that next uses a dead client
 * fails with an ordinary error, and the pool drops that client when it is released.
 */
export function survivesServerLoss(pool: pg.Pool): void {
  pool.on("error", () => undefined);
  pool.on("connect", (client) => client.on("error", () => undefined));
}
