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
import { finishRun, saveRunCounters, startRun, ZERO_COUNTERS, type RunCounters, type RunKind } from "../db/sql/runs.js";
import { upsertContacts } from "../db/sql/upsertContacts.js";
import { countUnseen, forgetSeen, markUnseenDeleted, recordSeen } from "../db/sql/reconcileDeletes.js";
import { SeekWindow, type SeekRequest, type SeekResult } from "./seek.js";
import { planIncrementalWindow } from "./windows.js";
import type { Prisma } from "../generated/prisma/client.js";

export interface SyncContext {
  db: Database;
  client: InboxClient;
  config: Pick<Config, "account" | "startAt" | "lookbackMs" | "lagMs">;
  logger: Logger;
  signal?: AbortSignal;
  now?: () => Date;
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
  return withRun(ctx, "incremental", async (run) => {
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
      const seek = new SeekWindow({ lastSeenAt: window, createdUpTo: null, cursor: resuming ? checkpoint.cursor : null, pageSize: checkpoint.pageSize ?? 1 });
      await readWindow(ctx, run, seek, "incremental", async (tx, rows, cursor) => {
        await writeCheckpoint(tx, account, "incremental", { cursor, pageSize: seek.learnedPageSize });
        return rows;
      });
      await writeCheckpoint(ctx.db.prisma, account, "incremental", {
        syncedUntil: window.to, windowStart: null, windowEnd: null, cursor: null, runId: null,
        pageSize: seek.learnedPageSize, lastCompletedAt: now(ctx),
      });
      checkpoint = await readCheckpoint(ctx.db.prisma, account, "incremental");
      // A resumed window is followed by one fresh window up to now; a fresh window ends the run.
      if (!resuming) break;
    }
  });
}

export async function runBackfill(ctx: SyncContext, range: { from: Date; to: Date }): Promise<RunSummary> {
  return withRun(ctx, "backfill", async (run) => {
    const checkpoint = await readCheckpoint(ctx.db.prisma, ctx.config.account, "incremental");
    run.windows.push({ from: range.from.toISOString(), to: range.to.toISOString() });
    const seek = new SeekWindow({ lastSeenAt: range, createdUpTo: null, cursor: null, pageSize: checkpoint.pageSize ?? 1 });
    await readWindow(ctx, run, seek, "backfill", async (_tx, rows) => rows);
  }, range);
}

export async function runReconcile(ctx: SyncContext, options: { allowMassDelete?: boolean } = {}): Promise<RunSummary> {
  return withRun(ctx, "reconcile", async (run) => {
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
    const seek = new SeekWindow({
      lastSeenAt: null, createdUpTo, cursor: resuming ? checkpoint.cursor : null,
      pageSize: Math.max(checkpoint.pageSize ?? 1, incremental.pageSize ?? 1),
    });
    await readWindow(ctx, run, seek, "reconcile", async (tx, rows, cursor) => {
      await recordSeen(tx, passId, account, rows.map((r) => r._id));
      await writeCheckpoint(tx, account, "reconcile", { cursor, pageSize: seek.learnedPageSize });
      return rows;
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
        windowEnd: null, cursor: null, runId: null, syncedUntil: createdUpTo, pageSize: seek.learnedPageSize, lastCompletedAt: now(ctx),
      });
      await saveRunCounters(tx, run.id, run.counters);
    }, { timeout: 120_000 });
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
  body: (run: RunState) => Promise<void>,
  range?: { from: Date; to: Date },
): Promise<RunSummary> {
  const started = Date.now();
  const lock = await lockAccount(ctx.db.pool, ctx.config.account, ctx.logger, ctx.signal);
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
      await body(current);
    } catch (error) {
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

type PageWriter = (tx: Prisma.TransactionClient, rows: RawContact[], cursor: Date | null) => Promise<RawContact[]>;

/** Seeks through one window: fetch (one page ahead), check, write page + checkpoint in one transaction. */
async function readWindow(ctx: SyncContext, run: RunState, seek: SeekWindow, kind: RunKind, writePage: PageWriter): Promise<void> {
  const { account } = ctx.config;
  const prefetch = new AbortController();
  const signal = ctx.signal ? AbortSignal.any([ctx.signal, prefetch.signal]) : prefetch.signal;
  const fetch = (request: SeekRequest) => {
    const promise = ctx.client.fetchPage({ query: request.query, page: request.page, signal });
    promise.catch(() => undefined); // observed when awaited; never an unhandled rejection
    return promise;
  };
  try {
    let request = seek.nextRequest();
    let pending = fetch(request);
    for (;;) {
      const rows = await pending;
      if (ctx.signal?.aborted) throw new StoppedError();
      const result: SeekResult = seek.accept(request, rows);
      if (result.duplicates > 0) ctx.logger.warn({ duplicates: result.duplicates }, "a page repeated contact ids; the last copy of each was kept");
      if (result.undated > 0) ctx.logger.warn({ undated: result.undated }, "contacts with a createdAt that does not parse; kept, with created_at null");
      let next: SeekRequest | undefined;
      if (!result.done) {
        next = seek.nextRequest();
        pending = fetch(next);
      }
      const mapped = result.fresh.map(mapContact);
      const counters = await ctx.db.prisma.$transaction(async (tx) => {
        const counts = await upsertContacts(tx, account, mapped);
        await writePage(tx, result.fresh, result.cursor);
        const c = run.counters;
        const updated: RunCounters = {
          ...c,
          pages: c.pages + 1,
          received: c.received + rows.length,
          inserted: c.inserted + counts.inserted,
          updated: c.updated + counts.updated,
          unchanged: c.unchanged + counts.unchanged,
          restored: c.restored + counts.restored,
          requests: ctx.client.requests - run.requestsBefore,
          retries: ctx.client.retries - run.retriesBefore,
        };
        await saveRunCounters(tx, run.id, updated);
        return updated;
      }, { timeout: 60_000 });
      // Counted only once committed: a page whose transaction failed is not in the figures.
      run.counters = counters;
      ctx.onPage?.(kind, run.counters);
      if (result.done || !next) return;
      request = next;
    }
  } finally {
    prefetch.abort();
  }
}

export type { PassKind };
