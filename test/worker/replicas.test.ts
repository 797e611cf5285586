// Two worker processes against one database (a rolling deploy, an accidental scale-up): the account lock
// lets one of them sync at a time, the other waits its turn quietly, and both stay healthy and ready.
import { afterEach, describe, expect, it } from "vitest";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort } from "../../src/db/embedded.js";
import { startApiDouble } from "../../src/double/server.js";
import { createDatabase } from "../helpers/db.js";
import { mirror, source, TOKEN } from "../helpers/sync.js";
import { get, overlaps, spawnWorker, waitFor, type WorkerProcess } from "./helpers.js";

let cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

describe("two workers, one database", () => {
  it("never sync the account at once, and both stay healthy", async () => {
    const double = await startApiDouble({ token: TOKEN, contacts: 800, pageSize: 50, latencyMs: 30 });
    const db = await createDatabase({ migrate: false });
    cleanup.push(() => double.close(), () => db.drop());
    double.startMutations({ everyMs: 200, see: 5, create: 1 });
    const env = {
      INBOX_API_URL: double.url, INBOX_API_TOKEN: TOKEN, DATABASE_URL: db.url, SYNC_LAG: "0", SYNC_START_AT: "2000-01-01",
      SYNC_CRON: "*/1 * * * * *", RECONCILE_CRON: "*/4 * * * * *",
    };
    const ports = [await freePort(), await freePort()];
    // Both start together: both migrate (under the migration lock) and both want their start-up pass.
    const workers: WorkerProcess[] = ports.map((port) => spawnWorker({ ...env, HTTP_PORT: String(port) }));
    cleanup.push(async () => {
      for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.signal("SIGKILL");
      await Promise.all(workers.map((w) => w.exit));
    });

    const finished = (w: WorkerProcess, kind: string) => w.logs().filter((l) => l.msg === `${kind} run finished`).length;
    await waitFor(
      "passes by both workers, and a reconcile",
      () => workers.every((w) => finished(w, "incremental") >= 2) && workers.some((w) => finished(w, "reconcile") >= 1),
      // Generous: about 15 s on a quiet machine; each worker's first pass also measures the API.
      150_000,
      100,
    );
    // Both answer their probes while the other holds the account (the first success makes them ready).
    const probes: { health: number; ready: number }[] = [];
    for (let i = 0; i < 6; i += 1) {
      for (const port of ports) probes.push({ health: (await get(port, "/healthz")).status, ready: (await get(port, "/readyz")).status });
      await sleep(150);
    }
    expect(probes.every((p) => p.health === 200 && p.ready === 200), JSON.stringify(probes)).toBe(true);
    double.stopMutations();
    const quiet = new Date();
    await waitFor("an incremental pass that started after the changes stopped", async () =>
      (await db.pool.query("select 1 from sync_runs where kind = 'incremental' and status = 'succeeded' and started_at > $1", [quiet])).rowCount, 30_000, 100);
    for (const w of workers) w.signal("SIGTERM");
    const exits = await Promise.all(workers.map((w) => w.exit));
    expect(exits.map((e) => e.code)).toEqual([0, 0]);

    const runs = (await db.pool.query("select id::text, kind, status, started_at, finished_at from sync_runs order by id")).rows;
    expect(runs.length).toBeGreaterThanOrEqual(5);
    expect(overlaps(runs)).toEqual([]);
    expect(runs.filter((r) => r.status === "failed")).toEqual([]);
    // The wait is part of normal operation: announced at info level, never as a warning or an error.
    const all = workers.flatMap((w) => w.logs());
    expect(all.some((l) => l.msg === "another contacts-sync process is syncing this account; waiting for it to finish" && l.level === 30)).toBe(true);
    expect(all.filter((l) => (l.level as number) >= 50)).toEqual([]);
    expect(all.filter((l) => (l.level as number) >= 40 && /another contacts-sync|lock/i.test(String(l.msg)))).toEqual([]);
    // And the mirror is whole: whichever worker ran it, the last incremental caught up with every change.
    const got = await mirror(db);
    expect([...source(double, (c) => c.lastSeenAt != null).keys()].filter((id) => !got.has(id))).toEqual([]);
  }, 300_000);
});
