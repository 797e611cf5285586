// A server that goes away under a checked-out connection: pg emits the error on the client, and the pool
// listens only while clients are idle. Found by the /readyz test on a loaded CI machine, where the database
// was stopped while the worker's remap slice held a client between two queries, and the worker exited 1.
import { afterEach, describe, expect, it } from "vitest";
import { setTimeout as sleep } from "node:timers/promises";
import { openDatabase } from "../../src/db/client.js";
import { startThrowawayPostgres } from "../../src/db/embedded.js";

let cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

describe("a database that goes away", () => {
  it("fails the next query on a checked-out client instead of ending the process, and the pool recovers", async () => {
    const server = await startThrowawayPostgres({ label: "server-loss", password: "server-loss" });
    cleanup.push(() => server.stop());
    const db = openDatabase(server.url);
    cleanup.push(() => db.close());

    const client = await db.pool.connect();
    await client.query("select 1");
    const ended = new Promise<void>((resolve) => client.once("end", () => resolve()));
    await server.pause();
    await ended; // the server's "terminating connection" error arrived (and was not an uncaught exception)
    await sleep(50);
    await expect(client.query("select 1")).rejects.toThrow();
    client.release();

    await server.resume();
    const { rows } = await db.pool.query<{ one: number }>("select 1 as one");
    expect(rows[0]?.one).toBe(1);
  }, 60_000);
});
