// Two syncs started together against one database (two CLI processes): the per-account advisory lock lets
// one write at a time; the other waits, then runs. The runs of one account never overlap in time, and the
// end state is exact. A lock on one account does not hold up another.
import { afterEach, describe, expect, it } from "vitest";
import pg from "pg";
import { startApiDouble, type ApiDouble } from "../../src/double/server.js";
import { createDatabase } from "../helpers/db.js";
import { EXACT, TOKEN, cli, cliEnv, compareMirror, exactness, observe, startCli, testPool, until, type CliProcess } from "./lib.js";

let cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

const WAITING = "another contacts-sync process is syncing this account; waiting for it to finish";

/** Holds the first API request until `release` resolves: the first process keeps the lock meanwhile. */
function gate(): { hook: (req: { n: number }) => Promise<void>; release: () => void; held: Promise<void> } {
  let release!: () => void;
  let markHeld!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const held = new Promise<void>((r) => (markHeld = r));
  return {
    hook: async (req) => {
      if (req.n !== 1) return;
      markHeld();
      await released;
    },
    release,
    held,
  };
}

async function setup(contacts = 600): Promise<{ double: ApiDouble; pool: pg.Pool; url: string; g: ReturnType<typeof gate> }> {
  const g = gate();
  const double = await startApiDouble({ token: TOKEN, contacts, pageSize: 25, seed: 13, latencyMs: 3, beforeAnswer: g.hook });
  const db = await createDatabase({ migrate: false });
  const pool = testPool(db.url);
  cleanup.push(() => double.close(), () => db.drop(), () => pool.end(), () => g.release());
  return { double, pool, url: db.url, g };
}

/** Waits until the process's log says it is waiting for the lock. */
async function waiting(proc: CliProcess): Promise<void> {
  await until(() => (proc.stderr().includes(WAITING) ? true : undefined), 60_000, 25);
}

async function lockHolders(pool: pg.Pool, account: string): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2
       AND classid = (hashtext('contacts-sync')::bigint & 4294967295)::oid AND objid = (hashtext($1)::bigint & 4294967295)::oid`,
    [account],
  );
  return rows[0]!.n;
}

async function overlaps(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM sync_runs a JOIN sync_runs b ON a.account = b.account AND a.id < b.id
     WHERE tstzrange(a.started_at, a.finished_at, '[]') && tstzrange(b.started_at, b.finished_at, '[]')`,
  );
  return rows[0]!.n;
}

describe("two writers on one account", () => {
  for (const [first, second] of [["sync", "sync"], ["sync", "reconcile"]] as const) {
    it(`\`${first}\` and \`${second}\` started together: one holds the per-account lock, the other waits; runs never overlap; exact end state`, async ({ task }) => {
      const { double, pool, url, g } = await setup();
      const env = cliEnv(double.url, url, { LOG_LEVEL: "info" });
      const a = startCli([first], env);
      const b = startCli([second], env);
      cleanup.push(() => a.kill(), () => b.kill());
      // One of them got the lock and sent its first request (held by the double); the other must wait.
      await g.held;
      const holder = await until(async () => ((await lockHolders(pool, "default")) === 1 ? 1 : undefined), 30_000);
      await until(() => (a.stderr().includes(WAITING) || b.stderr().includes(WAITING) ? true : undefined), 60_000, 25);
      const runsWhileHeld = (await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM sync_runs WHERE finished_at IS NULL")).rows[0]!.n;
      expect(runsWhileHeld).toBe(1); // the waiting process has not started a run
      g.release();
      const [ra, rb] = await Promise.all([a.done, b.done]);
      expect(ra.code, ra.stderr).toBe(0);
      expect(rb.code, rb.stderr).toBe(0);
      expect(await overlaps(pool)).toBe(0);
      const reconcile = await cli(["reconcile"], env);
      expect(reconcile.code).toBe(0);
      expect(exactness(await compareMirror(pool, double))).toEqual(EXACT);
      const runs = (await pool.query<{ kind: string; status: string }>("SELECT kind, status FROM sync_runs ORDER BY id")).rows;
      expect(runs.every((r) => r.status === "succeeded")).toBe(true);
      observe(task, `lock holders while held: ${holder}; the other process logged "${WAITING}" and started no run; runs ${runs.map((r) => r.kind).join(", ")}: none overlapping; mirror exact`);
    });
  }

  it("the lock is per account: another account syncs while one is held, and the held one waits for it", async ({ task }) => {
    const { double, pool, url, g } = await setup(200);
    g.release();
    const holder = new pg.Client({ connectionString: url, application_name: "reliability-test" });
    await holder.connect();
    cleanup.push(() => holder.end());
    await holder.query("SELECT pg_advisory_lock(hashtext('contacts-sync'), hashtext('held'))");
    const other = await cli(["sync"], cliEnv(double.url, url, { SYNC_ACCOUNT: "other" }));
    expect(other.code, other.stderr).toBe(0);
    const held = startCli(["sync"], cliEnv(double.url, url, { SYNC_ACCOUNT: "held", LOG_LEVEL: "info" }));
    cleanup.push(() => held.kill());
    await waiting(held);
    expect((await pool.query("SELECT count(*)::int AS n FROM sync_runs WHERE account = 'held'")).rows[0].n).toBe(0);
    await holder.query("SELECT pg_advisory_unlock(hashtext('contacts-sync'), hashtext('held'))");
    const result = await held.done;
    expect(result.code, result.stderr).toBe(0);
    expect(exactness(await compareMirror(pool, double, "held", (c) => c.lastSeenAt != null))).toEqual(EXACT);
    expect(exactness(await compareMirror(pool, double, "other", (c) => c.lastSeenAt != null))).toEqual(EXACT);
    observe(task, "account 'other' synced while 'held' was locked by the test; 'held' waited (no run row), then synced once released");
  });
});
