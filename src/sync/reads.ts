// Which stream reads what, for each pass: pure constructors, so that every combination of the API's
// measured behaviour can be tested without PostgreSQL or HTTP (test/unit/reads.test.ts).
import type { Strategy } from "../probe/profile.js";
import { SeekWindow, type Skips } from "./seek.js";
import { PartitionRead } from "./partition.js";
import type { LaneStream } from "./lanes.js";
import { fromKey, type InstantRange } from "./ranges.js";

export interface ReadSpec {
  stream: LaneStream;
}

/** A lastSeenAt range (a window or a backfill): seek on the API's order, the window a fixed filter or the seek's own range. */
export function lastSeenAtRead(strategy: Strategy, seen: InstantRange, cursor: number | null, pageSize: number | null, skips: Skips = []): ReadSpec {
  const common = {
    order: strategy.order,
    policy: { quantumMs: strategy.quantumMs, bothBounds: strategy.bothBounds },
    cursor,
    skips,
    pageSize: pageSize ?? 1,
    endOnEmptyPage: strategy.endOnEmptyPage,
    unstableTies: strategy.unstableTies,
  };
  const stream =
    strategy.order.field === "lastSeenAt"
      ? new SeekWindow({ ...common, range: seen })
      : new SeekWindow({ ...common, range: { from: null, to: null }, fixed: { lastSeenAt: seen } });
  return { stream };
}

/** The order a reconcile reads in: a createdAt seek where the API lists by createdAt, else createdAt parts (no order needed). */
export function reconcileOrder(strategy: Strategy): Strategy["order"] {
  return strategy.order.field === "createdAt" ? strategy.order : { field: "createdAt", direction: "desc" };
}

/** Everything created up to `upTo`: a createdAt seek, or createdAt parts on an API that lists by lastSeenAt. */
export function createdAtRead(strategy: Strategy, upTo: number, cursor: number | null, pageSize: number, from: number | null = null, skips: Skips = []): ReadSpec {
  const policy = { quantumMs: strategy.quantumMs, bothBounds: strategy.bothBounds };
  const range = { from, to: upTo };
  if (strategy.order.field === "createdAt") {
    return {
      stream: new SeekWindow({
        order: strategy.order, policy, range, cursor, pageSize, skips,
        endOnEmptyPage: strategy.endOnEmptyPage, unstableTies: strategy.unstableTies,
      }),
    };
  }
  // A seek on lastSeenAt would skip contacts seen while the pass reads, and never return those never seen.
  // (Its parts are read one lane at a time: no lane progress is stored for them, so there is none to skip.)
  return {
    stream: new PartitionRead({
      policy, range, cursor: cursor === null ? null : fromKey(cursor, "desc"), provenPageSize: null,
      endOnEmptyPage: strategy.endOnEmptyPage, unstableTies: strategy.unstableTies,
    }),
  };
}

