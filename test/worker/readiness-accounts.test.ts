// /readyz with ACCOUNTS_FILE (src/http/readiness.ts checkAccounts), on a real database: ready while every
// account is fresh; unready, naming the stale accounts, when one's last complete incremental pass is older than
// READY_MAX_AGE; a new account without a pass yet gets READY_MAX_AGE for its first one.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ReadinessProbe } from "../../src/http/readiness.js";
import { createDatabase, type TestDatabase } from "../helpers/db.js";

const NOW = Date.parse("2026-11-30T12:00:00Z");
const MAX_AGE_MS = 30 * 60_000;
let db: TestDatabase;
let probe: ReadinessProbe;

beforeAll(async () => {
  db = await createDatabase();
  const at = (minutesAgo: number) => new Date(NOW - minutesAgo * 60_000);
  for (const [account, minutesAgo] of [["fresh-1", 5], ["fresh-2", 29], ["stale-1", 31], ["stale-2", 600]] as const) {
    await db.pool.query("insert into sync_checkpoints (account, kind, last_completed_at) values ($1, 'incremental', $2)", [account, at(minutesAgo)]);
  }
  // A reconcile is no incremental: it does not make an account fresh.
  await db.pool.query("insert into sync_checkpoints (account, kind, last_completed_at) values ('only-reconciled', 'reconcile', $1)", [at(1)]);
  probe = new ReadinessProbe(db.url, "", MAX_AGE_MS, () => NOW);
});

afterAll(async () => {
  await probe?.close();
  await db?.drop();
});

describe("readiness over many accounts", () => {
  it("is ready while every account is fresh", async () => {
    const r = await probe.checkAccounts([{ name: "fresh-1", since: NOW - 86_400_000 }, { name: "fresh-2", since: NOW - 86_400_000 }]);
    expect(r.ready).toBe(true);
    expect(r.checks.accounts).toMatchObject({ ok: true, total: 2, fresh: 2, stale: [], maxAgeSeconds: 1800 });
  });

  it("is unready when one account is stale, and lists the stale ones", async () => {
    const long = NOW - 86_400_000;
    const r = await probe.checkAccounts(["fresh-1", "stale-1", "fresh-2", "stale-2"].map((name) => ({ name, since: long })));
    expect(r.ready).toBe(false);
    expect(r.checks.database.ok).toBe(true);
    expect(r.checks.accounts.stale).toEqual(["stale-1", "stale-2"]);
    expect(r.checks.accounts.fresh).toBe(2);
    expect(r.checks.accounts.each.slice(0, 2).map((e) => [e.account, e.ok, e.ageSeconds])).toEqual([["stale-1", false, 31 * 60], ["stale-2", false, 600 * 60]]);
  });

  it("gives an account without a pass READY_MAX_AGE from when it was added", async () => {
    const justAdded = await probe.checkAccounts([{ name: "fresh-1", since: NOW - 86_400_000 }, { name: "new", since: NOW - 60_000 }]);
    expect(justAdded.ready).toBe(true);
    const overdue = await probe.checkAccounts([{ name: "new", since: NOW - MAX_AGE_MS - 1000 }, { name: "only-reconciled", since: NOW - MAX_AGE_MS - 1000 }]);
    expect(overdue.ready).toBe(false);
    expect(overdue.checks.accounts.stale).toEqual(["new", "only-reconciled"]);
  });
});
