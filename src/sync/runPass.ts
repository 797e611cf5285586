// The passes, as thin configurations of one engine: a stream (seek.ts, or partition.ts where no seek is
// safe) says what to request next and when a read is complete; the lane scheduler (lanes.ts) keeps requests
// in flight and orders checkpoints; the page sink (sink.ts) writes each page with its checkpoint in one
// transaction. What the API does (its order, clock, bounds, ties, short pages) comes from what `check`
// measured (strategy.ts), never from a guess.
//
//   incremental: lastSeenAt windows from the checkpoint, planned on the API's clock;
//   backfill:    one given lastSeenAt range, checkpoint untouched;
//   reconcile:   everything created up to the pass's start (API clock), then deletions by absence, marked
//                only when the pass proved its read complete.
import type { Config } from "../config.js";
import type { Database } from "../db/client.js";
import { ContractError, ContradictionError, StoppedError } from "../errors.js";
import type { InboxClient, PageAnswer } from "../api/client.js";
import { scrub, type Logger } from "../log.js";
import { lockAccount } from "../db/sql/accountLock.js";
import { readCheckpoint, writeCheckpoint, type Checkpoint, type PassKind } from "../db/sql/checkpoints.js";
import { finishRun, lastMeasuredSkew, saveRunCounters, startRun, ZERO_COUNTERS, type RunCounters, type RunKind } from "../db/sql/runs.js";
import { countUnseen, forgetSeen, listUnseen, markUnseenDeleted, recordSeen } from "../db/sql/reconcileDeletes.js";
import { pruneHistoryAfterPass } from "../db/sql/pruneHistory.js";
import { describeOrder, formatSkew, SKEW_NOISE_MS, type Strategy } from "../probe/profile.js";
import type { SeekRequest, Skips } from "./seek.js";
import { runLanes } from "./lanes.js";
import { createdAtRead, lastSeenAtRead, reconcileOrder, type ReadSpec } from "./reads.js";
import { pageSink, type PassExtras } from "./sink.js";
import { ClockSkew, SKEW_UNCERTAINTY_MS } from "./clock.js";
import { fromKey, toKey, type InstantRange } from "./ranges.js";
import { DEFAULT_PROFILE_MAX_AGE_MS, resolveStrategy, type ResolvedStrategy } from "./strategy.js";
import { planIncrementalWindow } from "./windows.js";
import { releaseBuffers } from "../memory.js";

export interface SyncContext {
  db: Database;
  client: InboxClient;
  /** `concurrency` (SYNC_CONCURRENCY): most lanes of one read at once; 1 reads one page ahead only. */
  config: Pick<Config, "account" | "startAt" | "lookbackMs" | "lagMs"> & {
    concurrency?: number;
    historyRetentionMs?: number;
    filters?: Record<string, unknown>;
    /** How old a stored measurement of the API may be before a pass measures again (CHECK_MAX_AGE). */
    checkMaxAgeMs?: number;
  };
  logger: Logger;
  signal?: AbortSignal;
  now?: () => Date;
  /** Pages one lane covers before the next lane takes over (default LANE_PAGES; tests use small lanes). */
  lanePages?: number;
  /** Told about every committed page (metrics, progress). */
  onPage?: (kind: RunKind, counters: RunCounters) => void;
  /** Told how many requests the lanes may have in flight, at the start of a read and whenever AIMD changes it. */
  onConcurrency?: (allowed: number) => void;
  /** Read with this strategy instead of the stored measurement (tests and the benchmark, which know their API). */
  strategy?: Strategy;
  /** false: when another process holds the account's lock, fail at once with AccountBusyError instead of waiting. */
  lockWait?: boolean;
}

export interface RunSummary extends RunCounters {
  runId: bigint;
  kind: RunKind;
  status: "succeeded" | "failed" | "stopped";
  windows: { from: string | null; to: string }[];
  durationMs: number;
  /** API clock minus ours as measured in this run (ms), or null. */
  clockSkewMs: number | null;
  /** How the run read the API. */
  strategy: string | null;
  /** Why a reconcile marked no deletions although it had candidates (it could not prove them). */
  deletionsWithheld?: string;
  error?: string;
}

/** A mass deletion larger than this share of the live contacts needs --allow-mass-delete. */
export const MASS_DELETE_SHARE = 0.5;
const MASS_DELETE_MIN = 10;
/** Pages of keys one lane covers before the lane below it takes over. */
export const LANE_PAGES = 20;
/** Deletion candidates a reconcile verifies one by one (where its read alone is not proof); more: it marks none. */
export const VERIFY_LIMIT = 200;

interface RunState {
  id: bigint;
  kind: RunKind;
  counters: RunCounters;
  windows: RunSummary["windows"];
  clock: ClockSkew;
  strategy: ResolvedStrategy | null;
  deletionsWithheld?: string;
}

export async function runIncremental(ctx: SyncContext): Promise<RunSummary> {
  return withRun(ctx, "incremental", (run, ctx) =>
    withStrategy(run, ctx, async (strategy) => {
      const { account } = ctx.config;
      let checkpoint = await readCheckpoint(ctx.db.prisma, account, "incremental");
      for (let round = 0; round < 2; round += 1) {
        const resuming = checkpoint.windowStart !== null && checkpoint.windowEnd !== null;
        const window = resuming
          ? { from: checkpoint.windowStart!, to: checkpoint.windowEnd! }
          : planIncrementalWindow({ ...ctx.config, syncedUntil: checkpoint.syncedUntil, now: apiNow(ctx, run, strategy) });
        if (!window) break;
        const { cursor, skips } = resuming ? await resumePosition(ctx, checkpoint, strategy) : { cursor: null, skips: [] };
        if (resuming) ctx.logger.info({ from: window.from, to: window.to, cursor: checkpoint.cursor }, "resuming the window of an interrupted run");
        else await writeCheckpoint(ctx.db.prisma, account, "incremental", { windowStart: window.from, windowEnd: window.to, cursor: null, cursorOrder: null, runId: run.id });
        run.windows.push({ from: window.from.toISOString(), to: window.to.toISOString() });
        const seen: InstantRange = { from: window.from.getTime(), to: window.to.getTime() };
        const pageSize = await read(ctx, run, strategy, lastSeenAtRead(strategy, seen, cursor, checkpoint.pageSize, skips), "incremental", {
          checkpoint: { kind: "incremental", order: describeOrder(strategy.order), cursorOf: (key) => keyToDate(strategy, key) },
        });
        await writeCheckpoint(ctx.db.prisma, account, "incremental", {
          syncedUntil: window.to, windowStart: null, windowEnd: null, cursor: null, cursorOrder: null, runId: null,
          pageSize, lastCompletedAt: now(ctx),
        });
        checkpoint = await readCheckpoint(ctx.db.prisma, account, "incremental");
        // A resumed window is followed by one fresh window up to now; a fresh window ends the run.
        if (!resuming) break;
      }
    }),
  );
}

export async function runBackfill(ctx: SyncContext, range: { from: Date; to: Date }): Promise<RunSummary> {
  return withRun(ctx, "backfill", (run, ctx) =>
    withStrategy(run, ctx, async (strategy) => {
      const checkpoint = await readCheckpoint(ctx.db.prisma, ctx.config.account, "incremental");
      run.windows.push({ from: range.from.toISOString(), to: range.to.toISOString() });
      await read(ctx, run, strategy, lastSeenAtRead(strategy, { from: range.from.getTime(), to: range.to.getTime() }, null, checkpoint.pageSize), "backfill", {});
    }),
    range,
  );
}

export async function runReconcile(ctx: SyncContext, options: { allowMassDelete?: boolean } = {}): Promise<RunSummary> {
  return withRun(ctx, "reconcile", (run, ctx) =>
    withStrategy(run, ctx, async (strategy) => {
      const { account } = ctx.config;
      const checkpoint = await readCheckpoint(ctx.db.prisma, account, "reconcile");
      const incremental = await readCheckpoint(ctx.db.prisma, account, "incremental");
      const resuming = checkpoint.windowEnd !== null && checkpoint.runId !== null;
      const passId = resuming ? checkpoint.runId! : run.id;
      // Contacts created after this instant (on the API's clock) are not this pass's to judge.
      const createdUpTo = resuming ? checkpoint.windowEnd! : apiNow(ctx, run, strategy);
      // The pass reads in createdAt order: its cursor and the lanes' progress are positions on that order.
      const byCreatedAt: Strategy = { ...strategy, order: reconcileOrder(strategy) };
      const { cursor, skips } = resuming ? await resumePosition(ctx, checkpoint, byCreatedAt) : { cursor: null, skips: [] };
      if (resuming) {
        ctx.logger.info({ pass: String(passId), createdUpTo, cursor: checkpoint.cursor }, "resuming the reconcile pass of an interrupted run");
      } else {
        await ctx.db.prisma.$transaction(async (tx) => {
          await forgetSeen(tx, account);
          await writeCheckpoint(tx, account, "reconcile", { windowStart: null, windowEnd: createdUpTo, cursor: null, cursorOrder: null, runId: passId });
        });
      }
      run.windows.push({ from: null, to: createdUpTo.toISOString() });
      const knownPageSize = Math.max(checkpoint.pageSize ?? 1, incremental.pageSize ?? 1);
      const extras: PassExtras = {
        seenBy: passId,
        checkpoint: { kind: "reconcile", order: describeOrder(byCreatedAt.order), cursorOf: (key) => keyToDate(byCreatedAt, key) },
      };
      const pageSize = await read(ctx, run, strategy, createdAtRead(strategy, createdUpTo.getTime(), cursor, knownPageSize, null, skips), "reconcile", extras);

      // Where the read alone is not proof (tied rows that may reorder, short pages, a moving order field,
      // coarse bounds), each contact it did not return is looked up by its own createdAt before it is marked.
      if (needsVerification(strategy)) await verifyUnseen(ctx, run, strategy, passId, createdUpTo, pageSize, extras);

      await ctx.db.prisma.$transaction(async (tx) => {
        const { unseen, live } = await countUnseen(tx, passId, account, createdUpTo);
        if (!options.allowMassDelete && unseen >= MASS_DELETE_MIN && unseen > live * MASS_DELETE_SHARE) {
          throw new ContractError(
            `The reconcile pass returned ${live - unseen} of ${live} live contacts; marking ${unseen} deleted at once looks like ` +
              "the wrong account or token, or a filter change (INBOX_FILTERS), rather than real deletions. Nothing was marked. " +
              "If it is right, run `contacts-sync reconcile --allow-mass-delete` (it finishes this same pass).",
          );
        }
        run.counters.deleted += await markUnseenDeleted(tx, passId, account, createdUpTo);
        await forgetSeen(tx, account);
        await writeCheckpoint(tx, account, "reconcile", {
          windowEnd: null, cursor: null, cursorOrder: null, runId: null, syncedUntil: createdUpTo, pageSize, lastCompletedAt: now(ctx),
        });
        await saveRunCounters(tx, run.id, run.counters);
      }, { timeout: 120_000 });
      // Contact history past HISTORY_RETENTION goes once a day, after the pass (logs, never fails the pass).
      await pruneHistoryAfterPass(ctx.db.prisma, ctx.config.historyRetentionMs, ctx.logger);
    }),
  );
}

// ---------------------------------------------------------------------------------------------------------
// Reads

/** Reads one range completely through the lane scheduler and the page sink; returns the page size to store. */
async function read(ctx: SyncContext, run: RunState, strategy: Strategy, spec: ReadSpec, kind: RunKind, extras: PassExtras): Promise<number> {
  const sink = pageSink(ctx.db, ctx.config.account, run.id, extras);
  ctx.onConcurrency?.(Math.max(1, ctx.config.concurrency ?? 1));
  const outcome = await runLanes(spec.stream, {
    maxLanes: ctx.config.concurrency ?? 1,
    lanePages: ctx.lanePages ?? LANE_PAGES,
    fetch: (request, signal) => fetchObserved(ctx, run, request, signal),
    commit: async (page) => {
      if (page.duplicates > 0) ctx.logger.warn({ duplicates: page.duplicates }, "a page repeated contact ids; the last copy of each was kept");
      if (page.undated > 0) ctx.logger.warn({ undated: page.undated }, `contacts with a ${strategy.order.field} that does not parse; kept, with ${strategy.order.field === "createdAt" ? "created_at" : "last_seen_at"} null`);
      const delta = await sink.write(page);
      // Counted only once committed: a page whose transaction failed is not in the figures.
      run.counters = addCounters(run.counters, delta);
      ctx.onPage?.(kind, run.counters);
      releaseBuffers();
    },
    ...(ctx.signal ? { signal: ctx.signal } : {}),
    onConcurrency: (allowed, reason) => {
      if (reason === "throttled") ctx.logger.debug({ allowed }, "the API throttles (429): fewer requests in flight");
      ctx.onConcurrency?.(allowed);
    },
  });
  return outcome.pageSize;
}

async function fetchObserved(ctx: SyncContext, run: RunState, request: SeekRequest, signal: AbortSignal): Promise<PageAnswer> {
  const answer = await ctx.client.fetchPage({ query: request.query, page: request.page, signal });
  run.clock.observe(answer);
  return answer;
}

// ---------------------------------------------------------------------------------------------------------
// Deletions

/**
 * A pass's complete read proves a contact gone wherever every read ends on a proven end: a page shorter than
 * the proven page size, a tie group read to convergence, a createdAt part whose whole answer fit a page. Only
 * where short pages occur mid-list does a read end on an empty page that may hide more (a page of rows the API
 * filtered out): there each missing contact is looked up before it is marked.
 */
function needsVerification(strategy: Strategy): boolean {
  return strategy.endOnEmptyPage;
}

/**
 * Reads again, completely and on its own, the createdAt of every contact the pass did not return (each such
 * instant is a tiny read: usually one page; a tie group larger than a page is read to a proven end as in the
 * pass). What comes back is written and recorded as seen; a contact still missing is proven absent. A read
 * that cannot be proven complete keeps its contacts live (recorded as seen), with the reason in the run.
 */
async function verifyUnseen(ctx: SyncContext, run: RunState, strategy: Strategy, passId: bigint, createdUpTo: Date, pageSize: number, extras: PassExtras): Promise<void> {
  const { account } = ctx.config;
  const all = await listUnseen(ctx.db.prisma, passId, account, createdUpTo, VERIFY_LIMIT + 1);
  if (all.length === 0) return;
  const keep = (ids: string[]) => recordSeen(ctx.db.pool, passId, account, ids);
  const candidates = all.slice(0, VERIFY_LIMIT);
  const looked = new Set(candidates.map((c) => c.id));
  let beyond = 0;
  if (all.length > VERIFY_LIMIT) {
    // Beyond the limit, contacts stay live this time: each reconcile proves (and marks) up to the limit.
    for (;;) {
      const more = await listUnseen(ctx.db.prisma, passId, account, createdUpTo, 10_000);
      const rest = more.filter((c) => !looked.has(c.id));
      if (rest.length === 0) break;
      beyond += rest.length;
      await keep(rest.map((c) => c.id));
    }
  }
  const byInstant = new Map<number, string[]>();
  const unproven: string[] = [];
  for (const c of candidates) {
    if (c.createdAt === null) unproven.push(c.id);
    else byInstant.set(c.createdAt.getTime(), [...(byInstant.get(c.createdAt.getTime()) ?? []), c.id]);
  }
  for (const [at, ids] of byInstant) {
    if (ctx.signal?.aborted) throw new StoppedError();
    try {
      await read(ctx, run, strategy, createdAtRead(strategy, at, null, pageSize, at), "reconcile", extras.seenBy !== undefined ? { seenBy: extras.seenBy } : {});
    } catch (error) {
      if (!(error instanceof ContractError)) throw error;
      ctx.logger.warn({ createdAt: new Date(at), reason: scrub(error.message) }, "could not prove which contacts of one createdAt are gone; they stay live");
      unproven.push(...ids);
    }
  }
  if (unproven.length > 0) await keep(unproven);
  const withheld = [
    unproven.length > 0 ? `${unproven.length} contacts not returned by the pass could not be proven absent (unknown createdAt, or a read of their createdAt that could not be proven complete)` : "",
    beyond > 0 ? `${beyond} more were not looked up (at most ${VERIFY_LIMIT} per reconcile on this API: ${strategy.decisions.join("; ")})` : "",
  ].filter(Boolean);
  if (withheld.length > 0) {
    run.deletionsWithheld = `${withheld.join("; ")}. They stay live until a reconcile proves them gone; the next one goes on.`;
    ctx.logger.warn({ unproven: unproven.length, notLookedUp: beyond }, run.deletionsWithheld);
  }
  ctx.logger.info({ candidates: candidates.length, unproven: unproven.length }, "contacts the pass did not return, read again by their createdAt: only those proven absent are marked deleted");
}

// ---------------------------------------------------------------------------------------------------------
// Runs

function now(ctx: SyncContext): Date {
  return ctx.now ? ctx.now() : new Date();
}

/**
 * Now on the API's clock, less the estimate's uncertainty, for planning windows and reconcile bounds. A skew
 * within the Date header's noise is taken as none, so an API on our clock is planned exactly as before.
 */
function apiNow(ctx: SyncContext, run: RunState, strategy: Strategy): Date {
  const skew = run.clock.skewMs ?? strategy.clockSkewMs;
  const ours = now(ctx).getTime();
  if (Math.abs(skew) < SKEW_NOISE_MS) return new Date(ours);
  return new Date(ours + skew - SKEW_UNCERTAINTY_MS);
}

/**
 * Where an interrupted read resumes: the stored cursor and the lanes' progress below it, as keys of this
 * strategy's order. Stored as positions on another order (the API was measured again since), they mean
 * nothing here: the window is read again from its top, and what was stored is cleared first, so that no later
 * resume can take positions on one order for positions on another.
 */
async function resumePosition(ctx: SyncContext, checkpoint: Checkpoint, strategy: Strategy): Promise<{ cursor: number | null; skips: Skips }> {
  if (checkpoint.cursor === null && checkpoint.laneProgress.length === 0) return { cursor: null, skips: [] };
  const stored = checkpoint.cursorOrder ?? "createdAt desc";
  if (stored !== describeOrder(strategy.order)) {
    ctx.logger.info({ stored, now: describeOrder(strategy.order) }, "the stored cursor is a position on another order than the API's as measured now: the window is read again from its top");
    await writeCheckpoint(ctx.db.prisma, ctx.config.account, checkpoint.kind, { cursor: null, cursorOrder: null });
    return { cursor: null, skips: [] };
  }
  const key = (d: Date) => toKey(d.getTime(), strategy.order.direction);
  return {
    cursor: checkpoint.cursor === null ? null : key(checkpoint.cursor),
    skips: checkpoint.laneProgress.map((lane) => ({ top: key(lane.top), cursor: key(lane.cursor) })).filter((lane) => lane.cursor < lane.top),
  };
}

function keyToDate(strategy: Strategy, key: number | null): Date | null {
  return key === null ? null : new Date(fromKey(key, strategy.order.direction));
}

async function withStrategy(run: RunState, ctx: SyncContext, body: (strategy: Strategy) => Promise<void>): Promise<void> {
  const inputs = {
    db: ctx.db, client: ctx.client, account: ctx.config.account, filters: ctx.config.filters ?? {}, logger: ctx.logger,
    signal: ctx.signal, maxAgeMs: ctx.config.checkMaxAgeMs ?? DEFAULT_PROFILE_MAX_AGE_MS, now: now(ctx),
  };
  run.strategy = ctx.strategy ? { strategy: ctx.strategy, source: "given", profile: null } : await resolveStrategy(inputs);
  const initial = run.strategy.strategy.clockSkewMs !== 0 ? run.strategy.strategy.clockSkewMs : await lastMeasuredSkew(ctx.db.prisma, ctx.config.account);
  run.clock = new ClockSkew(initial);
  try {
    await body(run.strategy.strategy);
  } catch (error) {
    // A page contradicted the measurement: measure again and retry the pass once (committed pages stay).
    if (!(error instanceof ContradictionError) || run.strategy.source !== "stored") throw error;
    ctx.logger.warn({ reason: scrub(error.message) }, "a page contradicted the stored measurement of the API");
    run.strategy = await resolveStrategy(inputs, { remeasure: true });
    await body(run.strategy.strategy);
  }
}

async function withRun(
  ctx: SyncContext,
  kind: RunKind,
  body: (run: RunState, ctx: SyncContext) => Promise<void>,
  range?: { from: Date; to: Date },
): Promise<RunSummary> {
  const started = Date.now();
  const lock = await lockAccount(ctx.db.pool, ctx.config.account, ctx.logger, ctx.signal, { wait: ctx.lockWait });
  // The pass stops at its next page boundary if asked to, or if the account lock is lost.
  const runCtx: SyncContext = { ...ctx, signal: ctx.signal ? AbortSignal.any([ctx.signal, lock.lost]) : lock.lost };
  const requestsBefore = ctx.client.requests;
  const retriesBefore = ctx.client.retries;
  let run: RunState | undefined;
  try {
    const id = await startRun(ctx.db.prisma, ctx.config.account, kind, { start: range?.from ?? null, end: range?.to ?? null });
    run = { id, kind, counters: { ...ZERO_COUNTERS }, windows: [], clock: new ClockSkew(null), strategy: null };
    const current = run;
    // Request figures are the client's own count: they include the measurement and pages that failed.
    const syncHttp = () => {
      current.counters.requests = ctx.client.requests - requestsBefore;
      current.counters.retries = ctx.client.retries - retriesBefore;
    };
    const facts = () => ({ clockSkewMs: current.clock.skewMs, strategy: current.strategy ? current.strategy.strategy.decisions.join("; ") : null });
    let status: RunSummary["status"] = "succeeded";
    try {
      await body(current, runCtx);
    } catch (caught) {
      const error = lock.lost.aborted && !ctx.signal?.aborted ? new Error(LOCK_LOST) : caught;
      status = error instanceof StoppedError ? "stopped" : "failed";
      const message = scrub(error instanceof Error ? error.message : String(error));
      syncHttp();
      await finishRun(ctx.db.prisma, id, status, current.counters, message, facts()).catch(() => undefined);
      const summary = summarize(current, status, started, message);
      logRun(ctx.logger, summary);
      throw Object.assign(error instanceof Error ? error : new Error(message), { summary });
    }
    syncHttp();
    await finishRun(ctx.db.prisma, id, status, current.counters, undefined, facts());
    const summary = summarize(current, status, started);
    logRun(ctx.logger, summary);
    warnAboutClock(ctx.logger, current);
    return summary;
  } finally {
    await lock.release();
  }
}

const LOCK_LOST =
  "The database connection holding this account's lock ended (server restart, failover or a terminated " +
  "session), so the pass stopped at a page boundary rather than risk two writers. Committed pages and their " +
  "checkpoint are kept; the next run resumes from there.";

/** A large skew, or one that moved during the run, is worth telling: it is what the windows were planned on. */
function warnAboutClock(logger: Logger, run: RunState): void {
  const skew = run.clock.skewMs;
  if (skew === null) return;
  if (Math.abs(skew) >= 60_000) logger.warn({ clockSkewMs: Math.round(skew) }, `the API's clock is ${formatSkew(skew)} from ours; windows are planned on the API's clock`);
  if (run.clock.driftMs >= 5_000) logger.warn({ driftMs: Math.round(run.clock.driftMs) }, "the API's clock moved against ours during the run");
}

function summarize(run: RunState, status: RunSummary["status"], started: number, error?: string): RunSummary {
  const skew = run.clock.skewMs;
  return {
    runId: run.id, kind: run.kind, status, windows: run.windows, durationMs: Date.now() - started, ...run.counters,
    clockSkewMs: skew === null ? null : Math.round(skew),
    strategy: run.strategy ? run.strategy.strategy.decisions.join("; ") : null,
    ...(run.deletionsWithheld ? { deletionsWithheld: run.deletionsWithheld } : {}),
    ...(error ? { error } : {}),
  };
}

function logRun(logger: Logger, summary: RunSummary): void {
  const { runId, ...rest } = summary;
  const line = { run: String(runId), ...rest };
  if (summary.status === "succeeded") logger.info(line, `${summary.kind} run finished`);
  else if (summary.status === "stopped") logger.warn(line, `${summary.kind} run stopped`);
  else logger.error(line, `${summary.kind} run failed`);
}

function addCounters(a: RunCounters, page: RunCounters): RunCounters {
  return {
    pages: a.pages + page.pages,
    received: a.received + page.received,
    inserted: a.inserted + page.inserted,
    updated: a.updated + page.updated,
    unchanged: a.unchanged + page.unchanged,
    restored: a.restored + page.restored,
    deleted: a.deleted + page.deleted,
    requests: a.requests + page.requests,
    retries: a.retries + page.retries,
  };
}

export type { PassKind };
