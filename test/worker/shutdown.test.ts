// SIGTERM / SIGINT on the real process (./bin/contacts-sync worker): the pass stops at a page boundary, the
// checkpoint stays consistent, the process exits 0 within the grace period, and the next start resumes.
// A stop that cannot finish (a write stuck behind a lock) ends at SHUTDOWN_GRACE, or at once on a second signal.
import { afterEach, describe, expect, it } from "vitest";
import pg from "pg";
import { freePort } from "../../src/db/embedded.js";
import { startApiDouble, type ApiDouble } from "../../src/double/server.js";
import { createDatabase, type TestDatabase } from "../helpers/db.js";
import { mirror, source, TOKEN } from "../helpers/sync.js";
import { NEVER, spawnWorker, waitFor, type WorkerProcess } from "./helpers.js";

let cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function setup(contacts: number, doubleOptions: Partial<Parameters<typeof startApiDouble>[0]> = {}, migrate = false) {
  const double: ApiDouble = await startApiDouble({ token: TOKEN, contacts, ...doubleOptions });
  const db: TestDatabase = await createDatabase({ migrate });
  const admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  cleanup.push(() => double.close(), () => db.drop(), () => admin.end());
  const env = async () => ({
    INBOX_API_URL: double.url, INBOX_API_TOKEN: TOKEN, DATABASE_URL: db.url, SYNC_LAG: "0", SYNC_START_AT: "2000-01-01",
    SYNC_CRON: NEVER, RECONCILE_CRON: NEVER, HTTP_PORT: String(await freePort()), SHUTDOWN_GRACE: "10s",
  });
  return { double, db, admin, env };
}

function track(worker: WorkerProcess): WorkerProcess {
  cleanup.push(async () => {
    if (worker.child.exitCode === null && worker.child.signalCode === null) worker.signal("SIGKILL");
    await worker.exit;
  });
  return worker;
}

describe("worker shutdown", () => {
  it("SIGTERM mid-pass: exits 0 within the grace period, checkpoint consistent, the next start resumes", async () => {
    const { double, db, admin, env } = await setup(3000, { pageSize: 50, latencyMs: 60 });
    // One request at a time (SYNC_CONCURRENCY=1): the pass takes seconds, and the signal lands mid-pass.
    const first = track(spawnWorker({ ...(await env()), SYNC_CONCURRENCY: "1" }));
    await waitFor("a few committed pages", async () => {
      const r = await admin.query("select coalesce(max(pages), 0)::int as p from sync_runs");
      return r.rows[0].p >= 5;
    });
    const signalledAt = Date.now();
    first.signal("SIGTERM");
    const exit = await first.exit;
    expect(exit.code, first.lines.join("\n")).toBe(0);
    expect(exit.at - signalledAt).toBeLessThan(10_000);
    const logs = first.logs();
    expect(logs.some((l) => l.msg === "incremental run stopped" && l.status === "stopped")).toBe(true);
    expect(logs.at(-1)?.msg).toBe("worker stopped");

    const run = (await admin.query("select status, pages from sync_runs")).rows;
    expect(run).toEqual([expect.objectContaining({ status: "stopped" })]);
    const cp = (await admin.query("select cursor, window_start, synced_until from sync_checkpoints where kind = 'incremental'")).rows[0];
    expect(cp.window_start).not.toBeNull();
    expect(cp.synced_until).toBeNull();
    // The checkpoint is never ahead of the data: every contact of the window above the cursor is mirrored.
    const mirrored = await mirror(db);
    const expected = source(double, (c) => c.lastSeenAt != null);
    const above = [...expected.values()].filter((c) => Date.parse((c as { createdAt: string }).createdAt) >= (cp.cursor as Date).getTime());
    expect(above.length).toBeGreaterThan(0);
    for (const c of above) expect(mirrored.has((c as { _id: string })._id)).toBe(true);
    expect(mirrored.size).toBeLessThan(expected.size);
    // Nothing is left locked: the account lock went with the session.
    const locks = await admin.query("select count(*)::int as n from pg_locks l join pg_database d on d.oid = l.database where l.locktype = 'advisory' and d.datname = current_database()");
    expect(locks.rows[0].n).toBe(0);

    const second = track(spawnWorker(await env()));
    await waitFor("the resumed pass", async () => (await admin.query("select 1 from sync_runs where status = 'succeeded'")).rowCount);
    second.signal("SIGINT");
    expect((await second.exit).code).toBe(0);
    expect(second.logs().some((l) => l.msg === "resuming the window of an interrupted run")).toBe(true);
    const final = await mirror(db);
    expect([...expected.keys()].filter((id) => !final.has(id))).toEqual([]);
    const runs = (await admin.query("select status, received from sync_runs order by id")).rows;
    expect(runs.map((r) => r.status)).toEqual(["stopped", "succeeded"]);
    expect(runs[1].received).toBeLessThan(expected.size); // resumed, not started over
  }, 120_000);

  it("a stop stuck behind a database lock ends at SHUTDOWN_GRACE (exit 1), or at once on a second signal", async () => {
    const { db, admin, env } = await setup(200, { pageSize: 50 }, true);
    // Another session holds the checkpoint row: the pass's first checkpoint write waits for it.
    await admin.query("insert into sync_checkpoints (account, kind, updated_at) values ('default', 'incremental', now())");
    const locker = new pg.Client({ connectionString: db.url });
    await locker.connect();
    cleanup.push(() => locker.end());
    await locker.query("begin");
    await locker.query("select * from sync_checkpoints for update");
    const stuck = async () =>
      (await admin.query("select 1 from pg_stat_activity where datname = current_database() and application_name = 'contacts-sync' and wait_event_type = 'Lock'")).rowCount;
    // A process that exits while its statement waits leaves that backend (and its session's account lock)
    // behind until the statement ends; PostgreSQL only then notices the client is gone. Clear it here.
    const clearLeftovers = () =>
      admin.query("select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'contacts-sync' and datname = current_database()");

    const graceful = track(spawnWorker({ ...(await env()), SHUTDOWN_GRACE: "2s" }));
    await waitFor("the pass to wait on the row lock", stuck);
    let signalledAt = Date.now();
    graceful.signal("SIGTERM");
    let exit = await graceful.exit;
    expect(exit.code, graceful.lines.join("\n")).toBe(1);
    expect(exit.at - signalledAt).toBeGreaterThanOrEqual(1900);
    expect(exit.at - signalledAt).toBeLessThan(8000);
    expect(graceful.logs().some((l) => String(l.msg).startsWith("did not stop within the grace period (SHUTDOWN_GRACE)"))).toBe(true);
    await clearLeftovers();

    const impatient = track(spawnWorker({ ...(await env()), SHUTDOWN_GRACE: "20s" }));
    await waitFor("the pass to wait on the row lock", stuck);
    impatient.signal("SIGTERM");
    await waitFor("the first signal to be seen", () => impatient.logs().some((l) => String(l.msg).startsWith("stopping:")));
    signalledAt = Date.now();
    impatient.signal("SIGTERM");
    exit = await impatient.exit;
    expect(exit.code, impatient.lines.join("\n")).toBe(130);
    expect(exit.at - signalledAt).toBeLessThan(3000); // far below its 20 s grace period
    await clearLeftovers();

    // Nothing was lost: once the lock is gone, a worker completes the pass.
    await locker.query("rollback");
    const after = track(spawnWorker(await env()));
    await waitFor("a complete pass", async () => (await admin.query("select 1 from sync_runs where status = 'succeeded'")).rowCount);
    after.signal("SIGTERM");
    expect((await after.exit).code).toBe(0);
  }, 120_000);
});
