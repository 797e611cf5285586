// The run log: one row per sync, reconcile or backfill, with its figures and outcome.
import type { Prisma, PrismaClient } from "../../generated/prisma/client.js";

export type RunKind = "incremental" | "reconcile" | "backfill" | "remap";
export type RunStatus = "running" | "succeeded" | "failed" | "stopped";

export interface RunCounters {
  requests: number;
  retries: number;
  pages: number;
  received: number;
  inserted: number;
  updated: number;
  unchanged: number;
  deleted: number;
  restored: number;
}

export const ZERO_COUNTERS: RunCounters = {
  requests: 0, retries: 0, pages: 0, received: 0, inserted: 0, updated: 0, unchanged: 0, deleted: 0, restored: 0,
};

type Db = PrismaClient | Prisma.TransactionClient;

export async function startRun(db: Db, account: string, kind: RunKind, window: { start: Date | null; end: Date | null }): Promise<bigint> {
  // A run left 'running' by a killed process is closed as such when the next run of its kind starts.
  await db.syncRun.updateMany({
    where: { account, kind, status: "running" },
    data: { status: "failed", finishedAt: new Date(), error: "this run was never closed: its process was killed or crashed, or lost its database; its committed pages are kept" },
  });
  const run = await db.syncRun.create({
    data: { account, kind, windowStart: window.start, windowEnd: window.end },
  });
  return run.id;
}

export async function saveRunCounters(db: Db, runId: bigint, counters: RunCounters): Promise<void> {
  await db.syncRun.update({ where: { id: runId }, data: { ...counters } });
}

/** What a run measured of the API and how it read it. */
export interface RunApiFacts {
  clockSkewMs: number | null;
  strategy: string | null;
}

export async function finishRun(db: Db, runId: bigint, status: RunStatus, counters: RunCounters, error?: string, facts?: RunApiFacts): Promise<void> {
  await db.syncRun.update({
    where: { id: runId },
    data: {
      ...counters, status, finishedAt: new Date(), error: error ?? null,
      ...(facts ? { clockSkewMs: facts.clockSkewMs === null ? null : Math.round(facts.clockSkewMs), strategy: facts.strategy } : {}),
    },
  });
}

/** The API's clock skew as measured by the account's latest run that measured one (ms), or null. */
export async function lastMeasuredSkew(db: Db, account: string): Promise<number | null> {
  const run = await db.syncRun.findFirst({
    where: { account, clockSkewMs: { not: null } },
    orderBy: { id: "desc" },
    select: { clockSkewMs: true },
  });
  return run?.clockSkewMs ?? null;
}
