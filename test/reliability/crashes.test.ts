// Crashes: `./bin/contacts-sync sync` and `reconcile` killed with SIGKILL at many points of a multi-page
// pass, restarted each time. After every kill: the checkpoint is not ahead of the data (every contact it
// claims is mirrored, with its content), and the run figures, written in the same transactions as the pages,
// add up to what the tables hold. At the end: the mirror is exact, and no page was read more often than the
// design allows.
//
// There is no "between the upsert and the checkpoint" instant that survives a crash: both are statements of
// one transaction. Kill points "after the upsert" and "after the checkpoint write" pause that transaction
// inside PostgreSQL (a trigger sleeps) and kill the process there; the test then shows that nothing of that
// page is in the tables (the count of contacts is the one of the last commit).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type pg from "pg";
import { startApiDouble, type ApiDouble } from "../../src/double/server.js";
import { createDatabase, type TestDatabase } from "../helpers/db.js";
import {
  cli, EXACT, TOKEN, checkpointAhead, cliEnv, compareMirror, exactness, installChaos, mirrorRows, observe, runFigures, size, sourceContacts,
  startCli, testPool, until, type Chaos, type CliProcess,
} from "./lib.js";

const CONTACTS = size(700, 3000);
const PAGE = 8;
const START_AT = new Date("2000-01-01T00:00:00Z");

type KillPoint =
  | { at: "startup"; ms: number }
  | { at: "request"; k: number }
  | { at: "slice-request" }
  | { at: "after-commit"; k: number }
  | { at: "after-closing-commit" }
  | { at: "upsert"; k: number }
  | { at: "checkpoint"; k: number }
  | { at: "closing" };

function describePoint(p: KillPoint): string {
  switch (p.at) {
    case "startup": return `${p.ms} ms after start (start-up, migrations, lock)`;
    case "request": return `while request #${p.k} of the process waits for its answer`;
    case "slice-request": return "while a request of a tie slice (bulk-import millisecond) waits for its answer";
    case "after-commit": return `right after checkpoint commit #${p.k} of the process`;
    case "after-closing-commit": return "right after the commit that closes the window";
    case "upsert": return `inside page transaction #${p.k}: after the upsert, before the checkpoint write`;
    case "checkpoint": return `inside transaction #${p.k} that writes the checkpoint: after the write, before COMMIT`;
    case "closing": return "inside the transaction that closes the window / finishes the pass, before COMMIT";
  }
}

/** A seeded spread of kill points for the soak (RELIABILITY_SOAK=1). */
function soakPoints(seed: number, n: number): KillPoint[] {
  let s = seed;
  const rnd = (m: number) => ((s = (s * 1103515245 + 12345) % 2147483648), s % m);
  const out: KillPoint[] = [];
  for (let i = 0; i < n; i++) {
    const r = rnd(5);
    if (r === 0) out.push({ at: "request", k: 1 + rnd(12) });
    else if (r === 1) out.push({ at: "upsert", k: 1 + rnd(10) });
    else if (r === 2) out.push({ at: "checkpoint", k: 1 + rnd(10) });
    else out.push({ at: "after-commit", k: 1 + rnd(12) });
  }
  return out;
}

const SYNC_POINTS: KillPoint[] = [
  { at: "startup", ms: 0 },
  { at: "startup", ms: 350 },
  { at: "request", k: 1 },
  { at: "after-commit", k: 1 },
  { at: "upsert", k: 1 },
  { at: "after-commit", k: 2 },
  { at: "checkpoint", k: 2 },
  { at: "request", k: 4 },
  { at: "after-commit", k: 3 },
  { at: "slice-request" },
  { at: "upsert", k: 3 },
  { at: "after-commit", k: 5 },
  ...size([] as KillPoint[], soakPoints(7, 30)),
  { at: "closing" },
  { at: "after-closing-commit" },
];

const RECONCILE_POINTS: KillPoint[] = [
  { at: "request", k: 2 },
  { at: "after-commit", k: 1 },
  { at: "upsert", k: 2 },
  { at: "after-commit", k: 4 },
  { at: "checkpoint", k: 3 },
  { at: "slice-request" },
  { at: "after-commit", k: 6 },
  { at: "request", k: 5 },
  ...size([] as KillPoint[], soakPoints(11, 30)),
  { at: "closing" },
  { at: "after-commit", k: 1 },
];

interface Phase {
  command: "sync" | "reconcile";
  concurrency: number;
}
const SYNC: Phase = { command: "sync", concurrency: 1 };
const RECONCILE: Phase = { command: "reconcile", concurrency: 3 };

let double: ApiDouble;
let db: TestDatabase;
let chaos: Chaos;
let pool: pg.Pool;
let env: Record<string, string>;
/** Rows the double served to each process (computed from the request, before answering it). */
let served: Map<string, number>[] = [];
/** Request bodies each process sent, with how often. */
let bodies: Map<string, number>[] = [];
/** Requests answered with rows of one createdAt millisecond only: the seek cannot move past them. */
const tieRequests = new Set<string>();
let current: { proc: CliProcess; index: number; requests: number; killAt: KillPoint; killed?: Promise<unknown> } | undefined;
let silentEdits: string[] = [];
let deletions: string[] = [];
const report: { phase: string; point: string; pagesOfRun: number; cursor: string | null; mirrored: number; covered: number }[] = [];
const reReads: { phase: string; index: number; reRead: number; allowed: number; wasted: number; wasteAllowed: number; seams: number }[] = [];

beforeAll(async () => {
  double = await startApiDouble({
    token: TOKEN, contacts: CONTACTS, pageSize: PAGE, seed: 42, latencyMs: 2,
    beforeAnswer: async (req, d) => {
      const c = current;
      if (!c || req.page === 0) return;
      c.requests += 1;
      const slice = typeof req.body?.createdAt?.startAt === "string" && req.body.createdAt.startAt !== "" && req.body.createdAt.endsAt !== "" &&
        Date.parse(req.body.createdAt.endsAt) - Date.parse(req.body.createdAt.startAt) === 3;
      const p = c.killAt;
      if ((p.at === "request" && p.k === c.requests) || (p.at === "slice-request" && slice)) {
        c.killed = kill(c.proc);
        await c.killed; // the process is gone before it could receive this answer
        return;
      }
      const key = JSON.stringify(req.body);
      bodies[c.index]!.set(key, (bodies[c.index]!.get(key) ?? 0) + 1);
      const rows = d.store.query(req.body, PAGE).rows;
      if (rows.length > 0 && new Set(rows.map((r) => r.createdAt)).size === 1) tieRequests.add(key);
      const counts = served[c.index]!;
      for (const r of rows) counts.set(r._id, (counts.get(r._id) ?? 0) + 1);
    },
  });
  db = await createDatabase();
  // The test's own queries go through a pool of its own name (the helper's pool is named like the product's).
  await db.close();
  pool = testPool(db.url);
  chaos = await installChaos(db.url);
  env = cliEnv(double.url, db.url, { INBOX_RETRIES: "0", LOG_LEVEL: "info" });
  // As the README's first run does: measure the API once, so the killed processes read with that measurement
  // (the kill points and the read figures below are about the pass, not the measurement).
  const checked = await cli(["check"], env);
  expect(checked.code, checked.stderr).toBe(0);
}, 60_000);

afterAll(async () => {
  await chaos?.close();
  await pool?.end();
  await double?.close();
  await db?.drop();
});

async function kill(proc: CliProcess): Promise<void> {
  proc.kill();
  await proc.done;
}

/** Ids already committed by the pass under way (sync: the mirror; reconcile: what the pass recorded as seen). */
async function committedInPass(phase: Phase): Promise<Set<string>> {
  if (phase.command === "sync") return new Set((await mirrorRows(pool)).keys());
  const { rows } = await pool.query<{ id: string }>(
    "SELECT s.id FROM reconcile_seen s JOIN sync_checkpoints c ON c.account = s.account AND c.kind = 'reconcile' AND c.run_id = s.run_id",
  );
  return new Set(rows.map((r) => r.id));
}

/**
 * Committed rows a resumed pass may read again by design: the source contacts at the stored cursor's boundary
 * millisecond, and for each lane below the cursor whose progress is stored, the page that crosses into what it
 * committed and the rows at its own cursor's millisecond.
 */
async function reReadAllowed(phase: Phase): Promise<{ allowed: number; seams: number }> {
  const state = await pool.query<{ cursor: Date | null; lane_progress: Record<string, string> | null }>(
    "SELECT cursor, lane_progress FROM sync_checkpoints WHERE kind = $1", [phase.command === "sync" ? "incremental" : "reconcile"],
  );
  const at = (instant: number) => [...sourceContacts(double).values()].filter((c) => {
    const t = Date.parse(String(c.createdAt));
    return t >= instant - 1 && t <= instant;
  }).length;
  const cursor = state.rows[0]?.cursor;
  const lanes = Object.values(state.rows[0]?.lane_progress ?? {});
  const allowed = (cursor ? at(cursor.getTime()) : 0) + lanes.reduce((n, c) => n + PAGE + at(Date.parse(c)), 0);
  return { allowed, seams: lanes.length };
}

/** Starts the command, kills it at the point, then checks the state left behind. */
async function killAt(phase: Phase, point: KillPoint): Promise<string> {
  const committedBefore = await committedInPass(phase);
  const { allowed, seams } = await reReadAllowed(phase);
  const index = served.length;
  served.push(new Map());
  bodies.push(new Map());
  const commitsBefore = chaos.commits.length;
  await chaos.clearPauses();
  if (point.at === "upsert" || point.at === "checkpoint") await chaos.pauseAt(point.at, point.k);
  if (point.at === "closing") await chaos.pauseAt("closing", 1);

  const proc = startCli([phase.command], { ...env, SYNC_CONCURRENCY: String(phase.concurrency) });
  const c = (current = { proc, index, requests: 0, killAt: point } as NonNullable<typeof current>);
  let lastCommitContacts = chaos.commits.at(-1)?.contacts ?? 0;
  let processCommits = 0;
  chaos.onCommit = (commit) => {
    processCommits += 1;
    lastCommitContacts = commit.contacts;
    if ((point.at === "after-commit" && processCommits === point.k) || (point.at === "after-closing-commit" && commit.closing)) c.killed ??= kill(proc);
  };
  if (point.at === "startup") setTimeout(() => void (c.killed ??= kill(proc)), point.ms);
  let paused = false;
  if (point.at === "upsert" || point.at === "checkpoint" || point.at === "closing") {
    // Wait until the transaction sleeps inside PostgreSQL, then kill the process there.
    const outcome = await Promise.race([
      until(async () => ((await chaos.productBackends()).some((b) => b.sleeping) ? true : undefined), 60_000),
      proc.done.then(() => false),
    ]);
    if (outcome === true) {
      paused = true;
      c.killed ??= kill(proc);
    }
  }
  const result = await proc.done;
  chaos.onCommit = undefined;
  current = undefined;
  await c.killed;
  expect(result.signal, `the process was to be killed ${describePoint(point)}; it ended by itself:\n${result.stdout}${result.stderr}`).toBe("SIGKILL");
  // Its connections are gone (a transaction it left open was rolled back) before anything is checked.
  await until(async () => ((await chaos.productBackends()).length === 0 ? true : undefined), 30_000);

  const ahead = await checkpointAhead(pool, double, START_AT, "default", { incrementalContent: phase.command === "sync" });
  expect(ahead.violations).toEqual([]);
  const figures = await runFigures(pool);
  // Every contact row was inserted by a page whose figures committed with it, and no other way.
  expect(figures.contacts).toBe(figures.inserted);
  expect(figures.deletedMarks).toBe(figures.deleted);
  if (paused && phase.concurrency === 1) {
    // The paused transaction had written its upsert (and maybe its checkpoint): none of it survived. (With one
    // lane, it was the only transaction writing; with several, the figures check above covers it.)
    const { rows } = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM contacts");
    expect(rows[0]!.n).toBe(lastCommitContacts);
  }
  if (point.at === "after-commit" || point.at === "after-closing-commit") expect(chaos.commits.length).toBeGreaterThan(commitsBefore);

  // Reads: what this process re-read of what the pass had already committed, and what it read for nothing.
  const committedAfter = await committedInPass(phase);
  const mine = served[index]!;
  const reRead = [...mine.keys()].filter((id) => committedBefore.has(id)).length;
  const wasted = [...mine.keys()].filter((id) => !committedAfter.has(id)).length;
  const wasteAllowed = 2 * PAGE * phase.concurrency;
  reReads.push({ phase: phase.command, index, reRead, allowed, wasted, wasteAllowed, seams });
  expect(reRead, "rows of committed pages read again on resume").toBeLessThanOrEqual(allowed);
  expect(wasted, "rows fetched by the killed process and not committed (pages in flight and fetched ahead)").toBeLessThanOrEqual(wasteAllowed);

  const run = await pool.query<{ pages: number }>("SELECT pages FROM sync_runs WHERE status = 'running' ORDER BY id DESC LIMIT 1");
  const line = {
    phase: phase.command, point: describePoint(point), pagesOfRun: run.rows[0]?.pages ?? 0,
    cursor: ahead.state[phase.command === "sync" ? "incremental" : "reconcile"]?.cursor?.toISOString() ?? null,
    mirrored: figures.contacts, covered: ahead.covered,
  };
  report.push(line);
  return `killed after ${line.pagesOfRun} page(s) of the run; cursor ${line.cursor ?? "(top)"}; ${line.mirrored} contacts mirrored; ` +
    `${line.covered} covered by the checkpoint, all present; re-read ${reRead} committed rows (allowed ${allowed}${seams > 0 ? `: ${seams} lane seams` : ""}), ${wasted} fetched for nothing (allowed ${wasteAllowed})` +
    (paused ? "; the paused transaction left nothing behind" : "");
}

describe.sequential(`crashes: SIGKILL at ${SYNC_POINTS.length + RECONCILE_POINTS.length} points of a sync and a reconcile of ${CONTACTS} contacts, ${PAGE} per page`, () => {
  SYNC_POINTS.forEach((point, i) => {
    it(`sync kill ${i + 1}: ${describePoint(point)}`, async ({ task }) => {
      observe(task, await killAt(SYNC, point));
    });
  });

  it("sync: the next run after the kills completes, and the mirror holds every contact seen", async ({ task }) => {
    served.push(new Map());
    bodies.push(new Map());
    const result = await startCli(["sync"], { ...env, SYNC_CONCURRENCY: "1" }).done;
    expect(result.code, result.stderr).toBe(0);
    const cmp = await compareMirror(pool, double, "default", (c) => c.lastSeenAt != null);
    expect(exactness(cmp)).toEqual(EXACT);
    const runs = (await pool.query<{ status: string; error: string | null }>("SELECT status, error FROM sync_runs WHERE kind = 'incremental' ORDER BY id")).rows;
    // Every killed run was closed as such by the next run of its kind; the last one succeeded.
    expect(runs.at(-1)!.status).toBe("succeeded");
    const killedRuns = runs.slice(0, -1);
    expect(killedRuns.every((r) => r.status === "failed" && /run was never closed/.test(r.error ?? ""))).toBe(true);
    observe(task, `exit 0; ${cmp.live} live contacts equal to the double's; ${killedRuns.length} killed runs recorded as failed`);
  });

  it("between the passes the source changes: silent edits and deletions (what reconcile must find)", async () => {
    const alive = (c: { isContact: boolean; status: string }) => c.isContact && c.status !== "DELETED";
    silentEdits = double.store.randomIds(25, alive);
    for (const id of silentEdits) double.store.editSilently(id);
    deletions = double.store.randomIds(15, (c) => alive(c) && !silentEdits.includes(c._id));
    for (const id of deletions) double.store.delete(id);
    expect(deletions.length).toBe(15);
  });

  RECONCILE_POINTS.forEach((point, i) => {
    it(`reconcile kill ${i + 1}: ${describePoint(point)}`, async ({ task }) => {
      observe(task, await killAt(RECONCILE, point));
    });
  });

  it("reconcile: the next run finishes the same pass; the mirror is exact, edits rewritten once, deletions marked", async ({ task }) => {
    served.push(new Map());
    bodies.push(new Map());
    const result = await startCli(["reconcile"], { ...env, SYNC_CONCURRENCY: String(RECONCILE.concurrency) }).done;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/resuming the reconcile pass of an interrupted run/);
    const cmp = await compareMirror(pool, double);
    expect(exactness(cmp)).toEqual(EXACT);
    const marked = (await pool.query<{ id: string }>("SELECT id FROM contacts WHERE deleted_at IS NOT NULL ORDER BY id")).rows.map((r) => r.id);
    // The deleted contacts the sync had mirrored (those ever seen) are marked, and nothing else is.
    expect(marked).toEqual(deletions.filter((id) => double.store.get(id)!.lastSeenAt !== null).sort());
    const figures = (await pool.query<{ updated: number; deleted: number }>(
      "SELECT coalesce(sum(updated), 0)::int AS updated, coalesce(sum(deleted), 0)::int AS deleted FROM sync_runs WHERE kind = 'reconcile'",
    )).rows[0]!;
    // Each silently edited contact that had been mirrored was rewritten exactly once across all the
    // killed and resumed runs (a page committed before a kill is not rewritten when read again).
    const editedMirrored = silentEdits.filter((id) => double.store.get(id)!.lastSeenAt !== null).length;
    expect(figures.updated).toBe(editedMirrored);
    expect(figures.deleted).toBe(marked.length);
    observe(task, `exit 0; ${cmp.live} live contacts equal to the double's, ${cmp.deleted} marked deleted; ${figures.updated} silent edits rewritten once each`);
  });

  it("no page was read more often than the design allows", async ({ task }) => {
    // Per kill: committed rows re-read on resume <= the boundary millisecond (plus, with lanes, a page and a
    // boundary millisecond per lane whose progress was stored below the cursor); rows fetched and not committed
    // <= 2 pages per lane.
    expect(reReads.length).toBe(SYNC_POINTS.length + RECONCILE_POINTS.length);
    // Within one process, no request was sent twice (no faults here, so no retries): each page fetched once.
    // The one request the design sends twice: when a whole answer sits at one createdAt millisecond, the cursor
    // cannot move, and the same request is sent once more to tell a tie cluster (a full page again: read that
    // millisecond as a slice) from the end of the read (docs/design.md). It happens at the bulk-import
    // millisecond, and when a resumed read's first answer is only the boundary row.
    // And one more: where `check` could not show that tied rows keep their order (no tie group within its
    // budget), a slice is read at least twice, until a complete read brings nothing new (docs/design.md).
    const profile = (await pool.query<{ stable: boolean | null }>("SELECT (profile->>'stableTies')::boolean AS stable FROM api_profiles")).rows[0];
    const sliceRereads = profile?.stable !== true;
    const isSlice = (b: string) => {
      const c = (JSON.parse(b) as { createdAt: { startAt: string; endsAt: string } }).createdAt;
      return c.startAt !== "" && c.endsAt !== "" && Date.parse(c.endsAt) - Date.parse(c.startAt) === 3;
    };
    const repeated = bodies.flatMap((m) =>
      [...m.entries()].filter(([b, n]) => n > 1 && !(n === 2 && tieRequests.has(b)) && !(n === 2 && sliceRereads && isSlice(b))).map(([b]) => b));
    expect(repeated).toEqual([]);
    const tieRepeats = bodies.reduce((a, m) => a + [...m.values()].filter((n) => n === 2).length, 0);
    const worst = Math.max(...served.flatMap((m) => [...m.values()]));
    const syncRe = reReads.filter((r) => r.phase === "sync").reduce((a, r) => a + r.reRead, 0);
    const recRe = reReads.filter((r) => r.phase === "reconcile").reduce((a, r) => a + r.reRead, 0);
    // The reconcile reads with three lanes: some kills must have left lane progress behind, or the seams went untested.
    expect(reReads.filter((r) => r.phase === "reconcile" && r.seams > 0).length).toBeGreaterThan(0);
    observe(task, `sync (SYNC_CONCURRENCY=1): ${syncRe} committed rows re-read over ${SYNC_POINTS.length} kills; reconcile (SYNC_CONCURRENCY=3): ${recRe} over ${RECONCILE_POINTS.length} kills; no request sent twice by one process except ${tieRepeats} whose whole answer sat at one millisecond (by design: tie or end); a row served at most ${worst}x to one process (boundary rows, slice and lane seams)`);
  });
});
