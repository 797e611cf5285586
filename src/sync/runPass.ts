// The passes: incremental (lastSeenAt windows from the checkpoint), backfill (one given lastSeenAt range,
// checkpoint untouched) and reconcile (everything, by createdAt, then deletions by absence).
//
// Each page is written in one transaction together with the checkpoint that covers it, so the checkpoint
// can never run ahead of the data, and a run killed at any instant resumes at the last committed page.
// While a page is written, the next one is already being fetched (its request depends only on the rows).
import type { Config } from "../config.js";
import type { Database } from "../db/client.js";
import { ContractError, StoppedError } from "../errors.js";
import type { InboxClient } from "../api/client.js";
import type { RawContact } from "../api/response.js";
import { scrub, type Logger } from "../log.js";
import { mapContact } from "../records/mapContact.js";
import { lockAccount } from "../db/sql/accountLock.js";
import { readCheckpoint, writeCheckpoint, type PassKind } from "../db/sql/checkpoints.js";
import { addRunCounters, finishRun, saveRunCounters, startRun, ZERO_COUNTERS, type RunCounters, type RunKind } from "../db/sql/runs.js";
import { upsertContacts } from "../db/sql/upsertContacts.js";
import { countUnseen, forgetSeen, markUnseenDeleted, recordSeen } from "../db/sql/reconcileDeletes.js";
import { pruneHistoryAfterPass } from "../db/sql/pruneHistory.js";
import { SeekWindow, type SeekOptions, type SeekRequest, type SeekResult } from "./seek.js";
import { planIncrementalWindow } from "./windows.js";
import type { Prisma } from "../generated/prisma/client.js";

export interface SyncContext {
  db: Database;
  client: InboxClient;
  /** `concurrency` (SYNC_CONCURRENCY): most lanes of one window read at once; 1 reads one page ahead only. */
  config: Pick<Config, "account" | "startAt" | "lookbackMs" | "lagMs"> & { concurrency?: number; historyRetentionMs?: number };
  logger: Logger;
  signal?: AbortSignal;
  now?: () => Date;
  /** Pages one lane covers before the next lane takes over (default LANE_PAGES; tests use small lanes). */
  lanePages?: number;
  /** Told about every committed page (metrics). */
  onPage?: (kind: RunKind, counters: RunCounters) => void;
}

export interface RunSummary extends RunCounters {
  runId: bigint;
  kind: RunKind;
  status: "succeeded" | "failed" | "stopped";
  windows: { from: string | null; to: string }[];
  durationMs: number;
  error?: string;
}

/** A mass deletion larger than this share of the live contacts needs --allow-mass-delete. */
export const MASS_DELETE_SHARE = 0.5;
const MASS_DELETE_MIN = 10;

export async function runIncremental(ctx: SyncContext): Promise<RunSummary> {
  return withRun(ctx, "incremental", async (run, ctx) => {
    const { account } = ctx.config;
    let checkpoint = await readCheckpoint(ctx.db.prisma, account, "incremental");
    for (let round = 0; round < 2; round += 1) {
      const resuming = checkpoint.windowStart !== null && checkpoint.windowEnd !== null;
      const window = resuming
        ? { from: checkpoint.windowStart!, to: checkpoint.windowEnd! }
        : planIncrementalWindow({ ...ctx.config, syncedUntil: checkpoint.syncedUntil, now: now(ctx) });
      if (!window) break;
      if (resuming) ctx.logger.info({ from: window.from, to: window.to, cursor: checkpoint.cursor }, "resuming the window of an interrupted run");
      else await writeCheckpoint(ctx.db.prisma, account, "incremental", { windowStart: window.from, windowEnd: window.to, cursor: null, runId: run.id });
      run.windows.push({ from: window.from.toISOString(), to: window.to.toISOString() });
      const pageSize = await readWindow(ctx, run, { lastSeenAt: window, createdUpTo: null, cursor: resuming ? checkpoint.cursor : null, pageSize: checkpoint.pageSize ?? 1 }, "incremental", {
        checkpoint: (tx, cursor, size) => writeCheckpoint(tx, account, "incremental", { cursor, pageSize: size }),
      });
      await writeCheckpoint(ctx.db.prisma, account, "incremental", {
        syncedUntil: window.to, windowStart: null, windowEnd: null, cursor: null, runId: null,
        pageSize, lastCompletedAt: now(ctx),
      });
      checkpoint = await readCheckpoint(ctx.db.prisma, account, "incremental");
      // A resumed window is followed by one fresh window up to now; a fresh window ends the run.
      if (!resuming) break;
    }
  });
}

export async function runBackfill(ctx: SyncContext, range: { from: Date; to: Date }): Promise<RunSummary> {
  return withRun(ctx, "backfill", async (run, ctx) => {
    const checkpoint = await readCheckpoint(ctx.db.prisma, ctx.config.account, "incremental");
    run.windows.push({ from: range.from.toISOString(), to: range.to.toISOString() });
    await readWindow(ctx, run, { lastSeenAt: range, createdUpTo: null, cursor: null, pageSize: checkpoint.pageSize ?? 1 }, "backfill", {});
  }, range);
}

export async function runReconcile(ctx: SyncContext, options: { allowMassDelete?: boolean } = {}): Promise<RunSummary> {
  return withRun(ctx, "reconcile", async (run, ctx) => {
    const { account } = ctx.config;
    const checkpoint = await readCheckpoint(ctx.db.prisma, account, "reconcile");
    const incremental = await readCheckpoint(ctx.db.prisma, account, "incremental");
    const resuming = checkpoint.windowEnd !== null && checkpoint.runId !== null;
    const passId = resuming ? checkpoint.runId! : run.id;
    const createdUpTo = resuming ? checkpoint.windowEnd! : now(ctx);
    if (resuming) {
      ctx.logger.info({ pass: String(passId), createdUpTo, cursor: checkpoint.cursor }, "resuming the reconcile pass of an interrupted run");
    } else {
      await ctx.db.prisma.$transaction(async (tx) => {
        await forgetSeen(tx, account);
        await writeCheckpoint(tx, account, "reconcile", { windowStart: null, windowEnd: createdUpTo, cursor: null, runId: passId });
      });
    }
    run.windows.push({ from: null, to: createdUpTo.toISOString() });
    const pageSize = await readWindow(ctx, run, {
      lastSeenAt: null, createdUpTo, cursor: resuming ? checkpoint.cursor : null,
      pageSize: Math.max(checkpoint.pageSize ?? 1, incremental.pageSize ?? 1),
    }, "reconcile", {
      perPage: (tx, ids) => recordSeen(tx, passId, account, ids),
      checkpoint: (tx, cursor, size) => writeCheckpoint(tx, account, "reconcile", { cursor, pageSize: size }),
    });

    // The pass is complete: everything it did not return is gone from the API.
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
        windowEnd: null, cursor: null, runId: null, syncedUntil: createdUpTo, pageSize, lastCompletedAt: now(ctx),
      });
      await saveRunCounters(tx, run.id, run.counters);
    }, { timeout: 120_000 });
    // Contact history past HISTORY_RETENTION goes once a day, after the pass (logs, never fails the pass).
    await pruneHistoryAfterPass(ctx.db.prisma, ctx.config.historyRetentionMs, ctx.logger);
  });
}

interface RunState {
  id: bigint;
  requestsBefore: number;
  retriesBefore: number;
  kind: RunKind;
  counters: RunCounters;
  windows: RunSummary["windows"];
}

function now(ctx: SyncContext): Date {
  return ctx.now ? ctx.now() : new Date();
}

async function withRun(
  ctx: SyncContext,
  kind: RunKind,
  body: (run: RunState, ctx: SyncContext) => Promise<void>,
  range?: { from: Date; to: Date },
): Promise<RunSummary> {
  const started = Date.now();
  const lock = await lockAccount(ctx.db.pool, ctx.config.account, ctx.logger, ctx.signal);
  // The pass stops at its next page boundary if asked to, or if the account lock is lost.
  const runCtx: SyncContext = { ...ctx, signal: ctx.signal ? AbortSignal.any([ctx.signal, lock.lost]) : lock.lost };
  const requestsBefore = ctx.client.requests;
  const retriesBefore = ctx.client.retries;
  let run: RunState | undefined;
  try {
    const id = await startRun(ctx.db.prisma, ctx.config.account, kind, { start: range?.from ?? null, end: range?.to ?? null });
    run = { id, kind, counters: { ...ZERO_COUNTERS }, windows: [], requestsBefore, retriesBefore };
    const current = run;
    const syncHttp = () => {
      current.counters.requests = ctx.client.requests - requestsBefore;
      current.counters.retries = ctx.client.retries - retriesBefore;
    };
    let status: RunSummary["status"] = "succeeded";
    let message: string | undefined;
    try {
      await body(current, runCtx);
    } catch (caught) {
      const error = lock.lost.aborted && !ctx.signal?.aborted ? new Error(LOCK_LOST) : caught;
      status = error instanceof StoppedError ? "stopped" : "failed";
      message = scrub(error instanceof Error ? error.message : String(error));
      syncHttp();
      await finishRun(ctx.db.prisma, id, status, current.counters, message).catch(() => undefined);
      const summary = summarize(current, status, started, message);
      logRun(ctx.logger, summary);
      throw Object.assign(error instanceof Error ? error : new Error(message), { summary });
    }
    syncHttp();
    await finishRun(ctx.db.prisma, id, status, current.counters);
    const summary = summarize(current, status, started);
    logRun(ctx.logger, summary);
    return summary;
  } finally {
    await lock.release();
  }
}

const LOCK_LOST =
  "The database connection holding this account's lock ended (server restart, failover or a terminated " +
  "session), so the pass stopped at a page boundary rather than risk two writers. Committed pages and their " +
  "checkpoint are kept; the next run resumes from there.";

function summarize(run: RunState, status: RunSummary["status"], started: number, error?: string): RunSummary {
  return { runId: run.id, kind: run.kind, status, windows: run.windows, durationMs: Date.now() - started, ...run.counters, ...(error ? { error } : {}) };
}

function logRun(logger: Logger, summary: RunSummary): void {
  const { runId, ...rest } = summary;
  const line = { run: String(runId), ...rest };
  if (summary.status === "succeeded") logger.info(line, `${summary.kind} run finished`);
  else if (summary.status === "stopped") logger.warn(line, `${summary.kind} run stopped`);
  else logger.error(line, `${summary.kind} run failed`);
}

interface WindowHooks {
  /** Stores the resume point; called only with a cursor that has everything above it committed. */
  checkpoint?: (tx: Prisma.TransactionClient, cursor: Date | null, pageSize: number) => Promise<void>;
  /** Extra writes in the page's transaction (reconcile records the ids it saw). */
  perPage?: (tx: Prisma.TransactionClient, ids: string[]) => Promise<void>;
}

/** Pages of createdAt one lane covers before the lane below it takes over. */
export const LANE_PAGES = 20;
/** Clean pages (no 429 meanwhile) before one more lane is allowed: additive increase. */
const CLEAN_PAGES_PER_STEP = 4;

interface Lane {
  seek: SeekWindow;
  done: boolean;
  /** Set once the lane's last page is committed. */
  committedDone: boolean;
  /** The lane's resume point as committed (starts at its top). */
  committedCursor: Date | null;
}

/**
 * Reads one window completely. With SYNC_CONCURRENCY above 1 the window's createdAt range is cut into
 * lanes read side by side: the lowest, open-ended lane is split (a createdAt point estimated LANE_PAGES
 * below its position) whenever fewer lanes run than allowed, and the part below becomes a new lane. Each
 * lane fetches its next page while its current page is written, and commits its pages in order. The
 * stored cursor only moves through lanes whose every page above it is committed, so after a crash the
 * read resumes as one lane from there (re-reading at most the lanes that were below it).
 * Concurrency adapts: any 429 halves the number of lanes allowed, clean pages add one back (AIMD).
 */
async function readWindow(ctx: SyncContext, run: RunState, spec: SeekOptions, kind: RunKind, hooks: WindowHooks): Promise<number> {
  const { account } = ctx.config;
  const max = Math.max(1, ctx.config.concurrency ?? 1);
  // Start at the configured number (the default, 4, is gentle); a 429 halves it, clean pages win it back.
  let allowed = max;
  let cleanPages = 0;
  let throttledSeen = ctx.client.throttled;
  let pageSize = spec.pageSize;
  let proven: number | null = null;
  // What is stored and steers splitting: the size proven in this read (a page followed by more rows), else
  // the largest page seen. One oversized answer must not make every later page look short.
  const knownPageSize = () => proven ?? pageSize;
  const lanes: Lane[] = [];
  const running: Promise<void>[] = [];
  const stop = new AbortController();
  const signal = ctx.signal ? AbortSignal.any([ctx.signal, stop.signal]) : stop.signal;
  let failure: unknown;

  const fetch = (request: SeekRequest) => {
    const promise = ctx.client.fetchPage({ query: request.query, page: request.page, signal });
    promise.catch(() => undefined); // observed when awaited; never an unhandled rejection
    return promise;
  };

  const adapt = () => {
    if (ctx.client.throttled !== throttledSeen) {
      throttledSeen = ctx.client.throttled;
      allowed = Math.max(1, Math.floor(allowed / 2));
      cleanPages = 0;
      ctx.logger.debug({ allowed }, "the API throttles (429): fewer requests in flight");
    } else if (++cleanPages >= CLEAN_PAGES_PER_STEP && allowed < max) {
      allowed += 1;
      cleanPages = 0;
    }
  };

  const addLane = (cursor: Date | null, createdFrom: Date | null) => {
    const lane: Lane = {
      // A lane split off another starts with the page size the run has proven: no extra request to prove it.
      seek: new SeekWindow({ ...spec, cursor, createdFrom, pageSize, provenPageSize: proven }),
      done: false,
      committedDone: false,
      committedCursor: cursor,
    };
    lanes.push(lane);
    running.push(
      runLane(lane).catch((error: unknown) => {
        failure ??= error;
        stop.abort(); // the other lanes stop at their next request; committed pages stay
      }),
    );
  };

  const maybeSplit = (lane: Lane, pageRows: number) => {
    if (lane !== lanes[lanes.length - 1] || lane.done || pageRows < knownPageSize()) return;
    const free = allowed - lanes.filter((l) => !l.done).length;
    if (free <= 0) return;
    const position = lane.seek.position;
    const span = lane.seek.msPerPage;
    if (!position || span === null) return;
    const width = Math.floor(span * (ctx.lanePages ?? LANE_PAGES));
    let at = position.getTime() - width;
    if (width < 3) return;
    lane.seek.setFloor(new Date(at));
    // As many new lanes as are free, each `width` of createdAt below the last; the lowest stays open-ended.
    // A lane starting at `at` sends endsAt = at, which covers createdAt <= at - 1 ms under either reading.
    for (let i = 1; i < free; i += 1) {
      addLane(new Date(at), new Date(at - width));
      at -= width;
    }
    addLane(new Date(at), null);
  };

  const resumePoint = (lane: Lane, own: Date | null): Date | null | undefined => {
    const index = lanes.indexOf(lane);
    if (!lanes.slice(0, index).every((l) => l.committedDone)) return undefined; // a lane above is not done
    if (!lane.done) return own;
    const next = lanes.slice(index + 1).find((l) => !l.committedDone);
    return next ? next.committedCursor : own;
  };

  async function runLane(lane: Lane): Promise<void> {
    let request = lane.seek.nextRequest();
    let pending = fetch(request);
    for (;;) {
      const rows = (await pending).rows;
      if (signal.aborted) throw ctx.signal?.aborted ? new StoppedError() : new Error("stopped: another lane failed");
      const result: SeekResult = lane.seek.accept(request, rows);
      pageSize = Math.max(pageSize, lane.seek.learnedPageSize);
      proven = lane.seek.provenPageSize ?? proven;
      if (result.duplicates > 0) ctx.logger.warn({ duplicates: result.duplicates }, "a page repeated contact ids; the last copy of each was kept");
      if (result.undated > 0) ctx.logger.warn({ undated: result.undated }, "contacts with a createdAt that does not parse; kept, with created_at null");
      let next: SeekRequest | undefined;
      if (result.done) lane.done = true;
      else {
        next = lane.seek.nextRequest();
        pending = fetch(next);
      }
      adapt();
      maybeSplit(lane, rows.length);
      // Rows in id order: concurrent lanes that share a boundary row lock rows in the same order (no deadlock).
      const mapped = result.fresh.map(mapContact).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      const counters = await ctx.db.prisma.$transaction(async (tx) => {
        const counts = await upsertContacts(tx, account, mapped);
        await hooks.perPage?.(tx, mapped.map((r) => r.id));
        const cursor = resumePoint(lane, result.cursor);
        if (cursor !== undefined) await hooks.checkpoint?.(tx, cursor, knownPageSize());
        const delta: RunCounters = {
          ...ZERO_COUNTERS,
          pages: 1,
          received: rows.length,
          inserted: counts.inserted,
          updated: counts.updated,
          unchanged: counts.unchanged,
          restored: counts.restored,
          requests: ctx.client.requests - run.requestsBefore,
          retries: ctx.client.retries - run.retriesBefore,
        };
        await addRunCounters(tx, run.id, delta);
        return delta;
      }, { timeout: 60_000 });
      // Counted only once committed: a page whose transaction failed is not in the figures.
      run.counters = addCounters(run.counters, counters);
      lane.committedCursor = result.cursor;
      if (lane.done) {
        lane.committedDone = true;
        lane.seek.forget();
      }
      ctx.onPage?.(kind, run.counters);
      if (result.done || !next) return;
      request = next;
    }
  }

  try {
    addLane(spec.cursor, null);
    // Lanes are added while others run: wait until every lane, including late ones, has finished.
    for (let awaited = 0; awaited < running.length; ) {
      const end = running.length;
      await Promise.all(running.slice(awaited, end));
      awaited = end;
    }
  } finally {
    stop.abort();
  }
  if (failure !== undefined) throw failure;
  return knownPageSize();
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
    // Request figures are totals read from the client, not per page.
    requests: Math.max(a.requests, page.requests),
    retries: Math.max(a.retries, page.retries),
  };
}

export type { PassKind };
