// /readyz follows the database: a PostgreSQL server of this test's own is stopped under a running worker
// (unready, still alive), then started again (ready again), without restarting the worker.
import { afterEach, describe, expect, it } from "vitest";
import { freePort, startThrowawayPostgres } from "../../src/db/embedded.js";
import { startApiDouble } from "../../src/double/server.js";
import { TOKEN } from "../helpers/sync.js";
import { createDatabase } from "../helpers/db.js";
import { explained, get, NEVER, spawnWorker, waitFor } from "./helpers.js";

let cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

describe("/readyz", () => {
  it("turns unready when the database goes away and ready again when it returns", async () => {
    const server = await startThrowawayPostgres({ label: "readyz", password: "readyz" });
    cleanup.push(() => server.stop());
    const double = await startApiDouble({ token: TOKEN, contacts: 100 });
    cleanup.push(() => double.close());

    const port = await freePort();
    const worker = spawnWorker({
      INBOX_API_URL: double.url, INBOX_API_TOKEN: TOKEN, DATABASE_URL: server.url,
      SYNC_LAG: "0", SYNC_CRON: NEVER, RECONCILE_CRON: NEVER, HTTP_PORT: String(port), READY_MAX_AGE: "10m",
    });
    cleanup.push(async () => {
      if (worker.child.exitCode === null && worker.child.signalCode === null) worker.signal("SIGKILL");
      await worker.exit;
    });

    const ready = await waitFor("ready after the start-up pass", async () => {
      const r = await get(port, "/readyz");
      return r.status === 200 ? r.json() : undefined;
    });
    expect(ready).toMatchObject({ status: "ready", checks: { database: { ok: true }, migrations: { ok: true }, lastIncremental: { ok: true, maxAgeSeconds: 600 } } });

    await server.pause();
    const away = await explained(worker, waitFor("unready", async () => {
      const r = await get(port, "/readyz");
      return r.status === 503 ? r.json() : undefined;
    }));
    expect(away.checks.database.ok).toBe(false);
    expect(away.checks.database.error).toBeTruthy();
    expect(away.checks.database.error).not.toContain("readyz"); // the password
    expect((await get(port, "/healthz")).status).toBe(200); // alive all the same: no restart needed

    await server.resume();
    await explained(worker, waitFor("ready again", async () => (await get(port, "/readyz")).status === 200));
    expect(worker.child.exitCode).toBeNull();

    worker.signal("SIGTERM");
    expect((await worker.exit).code).toBe(0);
  }, 120_000);

  it("is unready before the first complete pass, and when that pass is older than READY_MAX_AGE", async () => {
    // A token the double refuses: no pass completes, the process stays up, /readyz says why.
    const double = await startApiDouble({ token: "another-token-0000" });
    cleanup.push(() => double.close());
    const db = await createDatabase();
    cleanup.push(() => db.drop());
    await db.pool.query(
      "insert into sync_checkpoints (account, kind, synced_until, last_completed_at, updated_at) values ('default', 'incremental', now() - interval '2 hours', now() - interval '2 hours', now())",
    );
    const port = await freePort();
    const worker = spawnWorker({
      INBOX_API_URL: double.url, INBOX_API_TOKEN: TOKEN, DATABASE_URL: db.url, SYNC_CRON: NEVER, RECONCILE_CRON: NEVER,
      HTTP_PORT: String(port), READY_MAX_AGE: "1h",
    });
    cleanup.push(async () => {
      if (worker.child.exitCode === null && worker.child.signalCode === null) worker.signal("SIGKILL");
      await worker.exit;
    });
    await waitFor("the failed start-up pass", () => worker.logs().some((l) => l.msg === "incremental run failed"));
    const r = await get(port, "/readyz");
    expect(r.status).toBe(503);
    expect(r.json()).toMatchObject({ status: "unready", checks: { database: { ok: true }, migrations: { ok: true }, lastIncremental: { ok: false, maxAgeSeconds: 3600 } } });
    expect(r.json().checks.lastIncremental.ageSeconds).toBeGreaterThanOrEqual(7200);
    const health = await waitFor("the failure in /healthz", async () => {
      const body = (await get(port, "/healthz")).json();
      return body.passes?.incremental?.consecutiveFailures === 1 ? body : undefined;
    });
    expect(health).toMatchObject({ status: "ok", phase: "running", passes: { incremental: { consecutiveFailures: 1, lastOutcome: "failed" } } });
    worker.signal("SIGTERM");
    expect((await worker.exit).code).toBe(0);
  }, 120_000);
});
