// Live data: while syncs and a reconcile run (through the CLI, with lanes), the double keeps changing:
// contacts are seen (and so move between pages and out of windows), created, edited without a lastSeenAt
// change, deleted, and deleted contacts come back. After the source stops changing, one incremental pass
// catches every contact seen, and one reconcile makes the mirror exact: same ids, same content, deletions
// marked, returns cleared.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type pg from "pg";
import { startApiDouble, type ApiDouble } from "../../src/double/server.js";
import { createDatabase, type TestDatabase } from "../helpers/db.js";
import { EXACT, TOKEN, cli, cliEnv, compareMirror, exactness, mirrorRows, observe, size, sourceContacts, testPool } from "./lib.js";

let double: ApiDouble;
let db: TestDatabase;
let pool: pg.Pool;
let env: Record<string, string>;
const restored = new Set<string>();
const changes = { requests: 0, restores: 0 };
/** The source changes only while this is true. */
let live = false;

beforeAll(async () => {
  double = await startApiDouble({
    token: TOKEN, contacts: size(2000, 10_000), pageSize: 25, seed: 77, latencyMs: 10,
    beforeAnswer: (req, d) => {
      changes.requests += 1;
      // Every 7th request, a deleted contact comes back.
      if (live && req.n % 7 === 0) {
        const [id] = d.store.randomIds(1, (c) => c.status === "DELETED" && c.isContact);
        if (id) {
          d.store.restore(id);
          restored.add(id);
          changes.restores += 1;
        }
      }
    },
  });
  db = await createDatabase({ migrate: false });
  pool = testPool(db.url);
  env = cliEnv(double.url, db.url, { SYNC_CONCURRENCY: "4" });
});

afterAll(async () => {
  await pool?.end();
  await double?.close();
  await db?.drop();
});

describe.sequential("live data: contacts seen, created, edited silently, deleted and restored throughout", () => {
  it("sync, reconcile and sync again while the source changes every 10 ms: each run succeeds", async ({ task }) => {
    const before = double.store.size;
    live = true;
    double.startMutations({ everyMs: 10, see: 3, create: 1, editSilently: 2, delete: 1 });
    const outcomes: string[] = [];
    for (const command of ["sync", "reconcile", "sync"]) {
      const run = await cli([command], env);
      expect(run.code, run.stderr).toBe(0);
      outcomes.push(run.stdout.trim());
    }
    double.stopMutations();
    live = false;
    expect(double.store.size).toBeGreaterThan(before);
    observe(task, `${double.store.size - before} contacts created, ${changes.restores} restored, others seen/edited/deleted during ${changes.requests} requests; ${outcomes.join(" | ")}`);
  });

  it("the source stops; one incremental pass mirrors every contact that was seen", async ({ task }) => {
    const run = await cli(["sync"], env);
    expect(run.code, run.stderr).toBe(0);
    const mirrored = await mirrorRows(pool);
    // A contact that came back from deletion keeps its old lastSeenAt: only a reconcile can see it return.
    const seen = [...sourceContacts(double, (c) => c.lastSeenAt != null).keys()].filter((id) => !restored.has(id));
    const missing = seen.filter((id) => !mirrored.has(id) || mirrored.get(id)!.deleted);
    expect(missing).toEqual([]);
    observe(task, `${seen.length} contacts with a lastSeenAt, all mirrored after one pass (${run.stdout.trim()})`);
  });

  it("one reconcile makes the mirror exact: ids, content, deletions marked, returns cleared", async ({ task }) => {
    const run = await cli(["reconcile"], env);
    expect(run.code, run.stderr).toBe(0);
    const cmp = await compareMirror(pool, double);
    expect(exactness(cmp)).toEqual(EXACT);
    // Every mirrored contact the double no longer lists is marked, and nothing else.
    const hidden = new Set(double.store.all().filter((c) => c.status === "DELETED" || !c.isContact).map((c) => c._id));
    const marked = (await pool.query<{ id: string }>("SELECT id FROM contacts WHERE deleted_at IS NOT NULL")).rows.map((r) => r.id);
    expect(marked.filter((id) => !hidden.has(id))).toEqual([]);
    const runs = (await pool.query<{ kind: string; status: string; restored: number; deleted: number }>("SELECT kind, status, restored, deleted FROM sync_runs ORDER BY id")).rows;
    expect(runs.every((r) => r.status === "succeeded")).toBe(true);
    observe(task, `${cmp.live} live contacts equal to the double's, ${cmp.deleted} marked deleted; restored over the runs: ${runs.reduce((a, r) => a + r.restored, 0)}`);
  });
});
