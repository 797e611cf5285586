// The end-to-end mirror check of issue 9, run against the API double playing one reality of the
// undocumented inbox API (or several at once): the product measures the API itself (no strategy given),
// syncs while the data changes under 10 % injected faults, syncs again once it is quiet, then reconciles;
// after each step the mirror is compared with the double's own truth.
//
// The scenario is the same for every reality:
//   - 2,000 generated contacts (seed 9), page size 25, plus a bulk import of 60 contacts sharing one
//     createdAt and lastSeenAt millisecond just before the first sync (a tie group larger than a page),
//     followed by 30 single new contacts;
//   - faults on 10 % of requests, drawn from the kinds the client retries (429, HTML 5xx, resets, truncated);
//   - live changes while the first sync runs (every 10 ms: 2 seen, 1 created, 1 edited silently, 1 deleted);
//   - the rig reads with 4 lanes of 4 pages, a 60 s lookback and no lag.
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ApiBehaviour, ApiDouble, DoubleOptions, FaultKind } from "../../src/double/server.js";
import type { ApiProfile, Strategy, StrategyPlan } from "../../src/probe/profile.js";
import { runIncremental, runReconcile, type RunSummary } from "../../src/sync/runPass.js";
import { SKEW_UNCERTAINTY_MS } from "../../src/sync/clock.js";
import { startRig, type Rig } from "../helpers/sync.js";
import { EXACT, compareMirror, exactness, sourceContacts, testPool } from "../reliability/lib.js";

export const CONTACTS = 2_000;
export const PAGE_SIZE = 25;
export const SEED = 9;
export const BULK_IMPORT = 60;
export const FRESH_AFTER_BULK = 30;
/** The faults the client retries (a 'slow' answer or an HTML page with 200 are other tests' business). */
export const RETRYABLE: FaultKind[] = ["429", "500-html", "502-html", "503-html", "reset", "truncated"];
export const FAULTS = { rate: 0.1, kinds: RETRYABLE, retryAfterSeconds: 0 };
export const MUTATIONS = { everyMs: 10, see: 2, create: 1, editSilently: 1, delete: 1 };

export interface Reality {
  name: string;
  behaviour: ApiBehaviour;
  options?: Partial<DoubleOptions>;
  /** Run between the live sync and the quiet one (e.g. the API changes its page size). */
  between?: (double: ApiDouble) => void;
  /** What the stored measurement must say of this API. */
  profile: Partial<ApiProfile>;
  /** What the strategy planned from it must do. */
  strategy: Partial<Strategy>;
  /** A decision the run summaries must name (the adaptation, in words). */
  decisions?: RegExp[];
}

/** One line per scenario for the final report: requests and what was found. */
export const REPORT: string[] = [];

interface StoredRow {
  ok: boolean;
  profile: ApiProfile;
  strategy: StrategyPlan;
}

async function storedProfile(pool: pg.Pool): Promise<StoredRow | undefined> {
  const { rows } = await pool.query<StoredRow>("SELECT ok, profile, strategy FROM api_profiles WHERE account = 'default'");
  return rows[0];
}

interface Row {
  id: string;
  last_seen_at: Date | null;
  deleted: boolean;
}

/**
 * After the quiet sync: every listed contact with a lastSeenAt is mirrored, live, with the double's lastSeenAt.
 * Returns what breaks it, with the facts needed to analyse each id.
 */
async function incrementalGaps(pool: pg.Pool, double: ApiDouble) {
  const { rows } = await pool.query<Row>("SELECT id, last_seen_at, deleted_at IS NOT NULL AS deleted FROM contacts WHERE account = 'default'");
  const byId = new Map(rows.map((r) => [r.id, r]));
  const missing: string[] = [];
  const deleted: string[] = [];
  const stale: string[] = [];
  let checked = 0;
  for (const [id, c] of sourceContacts(double, (c) => c.lastSeenAt != null)) {
    checked += 1;
    const row = byId.get(id);
    const fact = `${id} createdAt ${String(c.createdAt)} lastSeenAt ${String(c.lastSeenAt)}`;
    if (!row) missing.push(fact);
    else if (row.deleted) deleted.push(fact);
    else if (row.last_seen_at?.getTime() !== Date.parse(String(c.lastSeenAt))) stale.push(`${fact} mirrored ${row.last_seen_at?.toISOString() ?? "null"}`);
  }
  return { checked, missing, deleted, stale };
}

/**
 * A bulk import of BULK_IMPORT contacts sharing one createdAt and lastSeenAt millisecond (at .500 of a second,
 * about two seconds ago), then FRESH_AFTER_BULK contacts created a few milliseconds apart after it, so that
 * page 1 of the listing shows distinct stamps and the tie group spans pages 2 to 4. (A tie group filling page 1
 * is its own test in mirror.test.ts.) `freeze` sets the double's clock (null: real time again).
 */
export function bulkImport(double: ApiDouble, freeze: (t: number) => void, fresh = FRESH_AFTER_BULK): number {
  const at = Math.floor(Date.now() / 1000) * 1000 - 1_500;
  freeze(at);
  double.store.create(BULK_IMPORT);
  for (let k = 1; k <= fresh; k++) {
    freeze(at + 7 * k);
    double.store.create(1);
  }
  return at;
}

/** Runs `start` as soon as the account's API measurement is stored (polled), unless cancelled first. */
function startWhenMeasured(pool: pg.Pool, start: () => void): { cancel(): void; started(): boolean } {
  let done = false;
  let started = false;
  const poll = async () => {
    while (!done) {
      const { rows } = await pool.query("SELECT 1 FROM api_profiles WHERE account = 'default'");
      if (rows.length > 0 && !done) {
        start();
        started = true;
        return;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  void poll().catch(() => undefined);
  return { cancel: () => void (done = true), started: () => started };
}

function requests(s: RunSummary | undefined): string {
  return s ? `${s.requests} req (${s.retries} retries, ${s.pages} pages)` : "n/a";
}

/** Defines the describe block of one reality: the scenario's steps as tests sharing one rig. */
export function describeReality(reality: Reality): void {
  describe.sequential(reality.name, () => {
    let rig: Rig;
    let pool: pg.Pool;
    let frozen: number | undefined;
    const runs: RunSummary[] = [];
    const notes: string[] = [];

    beforeAll(async () => {
      rig = await startRig(
        {
          contacts: CONTACTS, pageSize: PAGE_SIZE, seed: SEED, behaviour: reality.behaviour, faults: FAULTS,
          // Frozen only for the bulk import below: its contacts then share one millisecond.
          now: () => frozen ?? Date.now(),
          ...reality.options,
        },
        { strategy: null, concurrency: 4, lanePages: 4, lookbackMs: 60_000, lagMs: 0, retries: 8 },
      );
      pool = testPool(rig.db.url);
    });

    afterAll(async () => {
      rig?.double.stopMutations();
      REPORT.push(`${reality.name}: ${runs.map((r) => `${r.kind} ${r.status} ${requests(r)}`).join("; ")}${notes.length ? ` | ${notes.join(" | ")}` : ""}`);
      console.log(`[realities] ${REPORT.at(-1)}`);
      await pool?.end();
      await rig?.close();
    });

    it("syncs while the data changes, then once more when quiet: every seen contact mirrored, none stale", async () => {
      // A bulk import: more contacts than a page share one createdAt and lastSeenAt millisecond.
      bulkImport(rig.double, (t) => (frozen = t));
      frozen = undefined;

      // The data changes from the moment the product has measured the API until the sync ends. (Changes
      // during the measurement itself are the business of "measuring a busy inbox" in mirror.test.ts.)
      const measured = startWhenMeasured(pool, () => rig.double.startMutations(MUTATIONS));
      try {
        runs.push(await runIncremental(rig.ctx));
      } finally {
        measured.cancel();
        rig.double.stopMutations();
      }
      expect(measured.started(), "the data changed while the first sync read").toBe(true);
      reality.between?.(rig.double);
      // Windows end this much before the API's now when its clock differs from ours (the estimate's
      // uncertainty, like a lag): contacts seen just before the stop are that much "too fresh" until then.
      if (Math.abs(reality.behaviour.clockSkewMs ?? 0) > 0) await new Promise((r) => setTimeout(r, SKEW_UNCERTAINTY_MS + 1_500));
      runs.push(await runIncremental(rig.ctx));
      expect(runs.map((r) => r.status)).toEqual(["succeeded", "succeeded"]);

      const gaps = await incrementalGaps(pool, rig.double);
      notes.push(`after syncs: ${gaps.checked} seen contacts checked, ${gaps.missing.length} missing, ${gaps.deleted.length} marked deleted, ${gaps.stale.length} stale`);
      const windows = runs.map((r) => r.windows.map((w) => `[${w.from} .. ${w.to}]`).join(" ")).join(" / ");
      expect({ missing: gaps.missing, deleted: gaps.deleted, stale: gaps.stale }, `windows ${windows}; skew ${runs.map((r) => r.clockSkewMs).join(", ")}`).toEqual({
        missing: [], deleted: [], stale: [],
      });
    });

    it("a reconcile makes the mirror exact: silent edits, deletions marked, no live contact marked deleted", async () => {
      // As before the quiet sync: the pass judges what was created up to the API's now less the uncertainty.
      if (Math.abs(reality.behaviour.clockSkewMs ?? 0) > 0) await new Promise((r) => setTimeout(r, SKEW_UNCERTAINTY_MS + 1_500));
      const summary = await runReconcile(rig.ctx);
      runs.push(summary);
      expect(summary.status).toBe("succeeded");
      const cmp = await compareMirror(pool, rig.double);
      notes.push(`after reconcile: ${cmp.live} live, ${cmp.deleted} marked deleted, ${JSON.stringify(exactness(cmp))}${summary.deletionsWithheld ? `, withheld: ${summary.deletionsWithheld}` : ""}`);
      const sample = (ids: string[]) => ids.slice(0, 5).map((id) => {
        const c = rig.double.store.get(id);
        return c ? `${id} createdAt ${c.createdAt} lastSeenAt ${c.lastSeenAt} status ${c.status} isContact ${c.isContact}` : id;
      });
      expect(exactness(cmp), JSON.stringify({
        deletionsWithheld: summary.deletionsWithheld, missing: sample(cmp.missing), extra: sample(cmp.extra),
        different: sample(cmp.different), deletedButLive: sample(cmp.deletedButLive), createdUpTo: summary.windows[0]?.to,
      })).toEqual(EXACT);
      // Every mirrored contact the double no longer lists is marked, and nothing else.
      const hidden = new Set(rig.double.store.all().filter((c) => c.status === "DELETED" || !c.isContact).map((c) => c._id));
      const marked = (await pool.query<{ id: string }>("SELECT id FROM contacts WHERE deleted_at IS NOT NULL")).rows.map((r) => r.id);
      expect(marked.filter((id) => !hidden.has(id))).toEqual([]);
      expect(cmp.deleted).toBeGreaterThan(0);
    });

    it("measured the API itself and read it with the strategy its reality needs", async () => {
      const stored = await storedProfile(pool);
      expect(stored?.ok).toBe(true);
      expect(stored!.profile).toMatchObject(reality.profile);
      expect(stored!.strategy.ok).toBe(true);
      const strategy = (stored!.strategy as { ok: true; strategy: Strategy }).strategy;
      expect(strategy).toMatchObject(reality.strategy);
      const skew = reality.behaviour.clockSkewMs ?? 0;
      expect(Math.abs(strategy.clockSkewMs - skew)).toBeLessThan(2_000);
      // Every run read with what was measured (the first measured it, the others loaded it).
      for (const run of runs) {
        expect(run.strategy).toBe(strategy.decisions.join("; "));
        expect(Math.abs((run.clockSkewMs ?? 0) - skew)).toBeLessThan(2_000);
      }
      for (const d of reality.decisions ?? []) expect(strategy.decisions).toContainEqual(expect.stringMatching(d));
      notes.push(`strategy: ${strategy.decisions.join("; ")}`);
    });
  });
}
