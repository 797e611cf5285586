// Date ranges as the sync means them and as it sends them. Pure.
//
// The sync reasons in logical, inclusive ranges of instants [from, to] (ms). What it sends must return every
// instant of such a range whatever the API does with the bounds, as far as `check` could tell: bounds may be
// inclusive or exclusive, and may be compared at a coarser precision (the API floors them to whole seconds or
// days), and a one-sided range may be ignored. Over-coverage is harmless (rows are de-duplicated by id and
// upserts are idempotent); under-coverage loses contacts.
//
// A seek walks one field in one direction. To write that walk once, instants are mapped to *keys* that always
// decrease along the API's order: key = instant for a newest-first order, key = -instant - 1 for an
// oldest-first one (the -1 keeps precision buckets aligned: the instants of one second are the keys of one
// bucket). A seek then always reads "keys at or below the cursor", whatever the order.
import type { DateRange } from "../api/requestBody.js";
import type { Direction } from "../probe/profile.js";

/** The floor sent instead of an open lower bound when one-sided ranges are not honoured. */
export const FAR_PAST_MS = Date.parse("1970-01-01T00:00:00.000Z");
/** The ceiling sent instead of an open upper bound. Far enough for any stamp, near enough for any date parser. */
export const FAR_FUTURE_MS = Date.parse("2100-01-01T00:00:00.000Z");

/** How bounds are sent to this API. */
export interface BoundPolicy {
  /** The precision at which the API compares bounds (ms); 1 = exact. */
  quantumMs: number;
  /** Send a far-past floor / far-future ceiling instead of an empty bound. */
  bothBounds: boolean;
}

/** A logical, inclusive range of instants (ms); null = open. */
export interface InstantRange {
  from: number | null;
  to: number | null;
}

export function floorTo(value: number, quantum: number): number {
  return Math.floor(value / quantum) * quantum;
}

/**
 * The bounds to send so that every instant of `range` is returned, whether the API's bounds are inclusive or
 * exclusive, and whether it floors them to `quantumMs` or compares them exactly:
 *   startAt = floor(from) - 1 ms: floored, it is at most the bucket below `from`'s, so even an exclusive
 *             bound keeps `from`;
 *   endsAt  = floor(to) + quantum: floored, it is the bucket above `to`'s, so even an exclusive bound keeps `to`.
 * At 1 ms precision this is [from - 1 ms, to + 1 ms].
 */
export function renderRange(range: InstantRange, policy: BoundPolicy): DateRange {
  const q = Math.max(1, policy.quantumMs);
  const from = range.from === null ? (policy.bothBounds ? FAR_PAST_MS : null) : Math.max(FAR_PAST_MS, floorTo(range.from, q) - 1);
  const to = range.to === null ? (policy.bothBounds ? FAR_FUTURE_MS : null) : Math.min(FAR_FUTURE_MS, floorTo(range.to, q) + q);
  return { from: from === null ? null : new Date(from), to: to === null ? null : new Date(to) };
}

/**
 * The instants an answer to a sent range may legitimately hold: the sent bounds, widened by one quantum each way
 * (a floored or inclusive bound lets a little more through). A row outside means the API ignored the filter.
 */
export function acceptedRange(sent: DateRange, quantumMs: number): { from: number; to: number } {
  const q = Math.max(1, quantumMs);
  const open = (d: Date | null, bound: number) => (d === null || (d.getTime() === bound) ? null : d.getTime());
  const from = open(sent.from, FAR_PAST_MS);
  const to = open(sent.to, FAR_FUTURE_MS);
  return { from: from === null ? Number.NEGATIVE_INFINITY : floorTo(from, q) - q, to: to === null ? Number.POSITIVE_INFINITY : floorTo(to, q) + q };
}

/** The key of an instant along an order: keys decrease along the listing. Its own inverse. */
export function toKey(instant: number, direction: Direction): number {
  return direction === "desc" ? instant : -instant - 1;
}

export const fromKey = toKey;

/** The instants of the keys [low, high] (inclusive; null = open). */
export function keysToInstants(low: number | null, high: number | null, direction: Direction): InstantRange {
  if (direction === "desc") return { from: low, to: high };
  return { from: high === null ? null : fromKey(high, direction), to: low === null ? null : fromKey(low, direction) };
}

/** The keys of the instants [from, to]: { low, high } (null = open). */
export function instantsToKeys(range: InstantRange, direction: Direction): { low: number | null; high: number | null } {
  if (direction === "desc") return { low: range.from, high: range.to };
  return { low: range.to === null ? null : toKey(range.to, direction), high: range.from === null ? null : toKey(range.from, direction) };
}
