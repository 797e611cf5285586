// The undocumented parts of the inbox API, as knobs: the double plays one plausible reality per setting, so
// the sync and `check` can be tested against each (issue 9). Every knob defaults to the documented guess
// (newest first by createdAt, stable ties, full pages, one-sided ranges honoured, inclusive millisecond bounds,
// unlisted filters ignored, no rate limit, the API's clock equal to ours).

export const ORDERS = ["createdAt desc", "createdAt asc", "lastSeenAt desc", "lastSeenAt asc"] as const;
export type ListingOrder = (typeof ORDERS)[number];

export interface ApiBehaviour {
  /** The API's clock minus the real one (ms). The Date header of every answer and every stamp the double writes
   *  (createdAt of created contacts, lastSeenAt of visits, updatedAt) use now()+clockSkewMs; generated data is
   *  generated relative to that skewed clock too. Default 0. The Date header and rate-limit times use the real
   *  clock (Date.now) plus the skew; stamps use DoubleOptions.now plus the skew (the same unless `now` is fixed). */
  clockSkewMs?: number;
  /** Listing order, default "createdAt desc". For lastSeenAt orders, contacts without lastSeenAt list last in desc and
   *  first in asc (MongoDB's null ordering), and a lastSeenAt filter never matches them. Ties broken by _id in the
   *  same direction, unless unstableTies. */
  order?: ListingOrder;
  /** Rows sharing the sort value come back in a different random order in every request (so page numbers over a
   *  tie group skip and repeat rows). Seeded: the same requests in the same order give the same answers. */
  unstableTies?: boolean;
  /** isContact applied after paginating: each page is cut (pageSize users) from the listing of all users (contacts
   *  and non-contacts, after every other filter), then non-contacts are dropped: pages mid-list come back short,
   *  and a page of only non-contacts comes back empty. */
  postFilter?: boolean;
  /** A date filter applies only when both startAt and endsAt are non-empty; a one-sided range is ignored. */
  bothBoundsRequired?: boolean;
  /** Bounds are truncated (floored) to this precision before comparison (1000 = seconds, 86400000 = days); stamps
   *  keep their ms. Default 1. */
  boundPrecisionMs?: number;
  /** Default true: startAt <= v <= endsAt. false: startAt < v < endsAt. */
  boundsInclusive?: boolean;
  /** Boolean filter values sent but not listed in applicableFilters (userInteracted, isOnline, isLiveChatActive)
   *  are applied anyway. */
  unlistedFiltersApplied?: boolean;
  /** Rate-limit headers on every answer: X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset (epoch
   *  seconds). When `limit` requests within `windowMs` are spent: 429 with Retry-After, in seconds or as an HTTP date.
   *  A fixed window that starts with the first request after the previous one ended; every request counts (401s,
   *  404s and the 429s themselves too). */
  rateLimit?: { limit: number; windowMs: number; retryAfter?: "seconds" | "date" };
}

/** Throws RangeError for a value the double cannot play; returns a copy (the caller may change its own object). */
export function checkBehaviour(b: ApiBehaviour | undefined): ApiBehaviour {
  if (b === undefined) return {};
  if (typeof b !== "object" || b === null) throw new RangeError("behaviour must be an object");
  const out: ApiBehaviour = { ...b };
  if (b.clockSkewMs !== undefined && !Number.isFinite(b.clockSkewMs)) throw new RangeError(`behaviour.clockSkewMs must be a finite number, got ${b.clockSkewMs}`);
  if (b.order !== undefined && !ORDERS.includes(b.order)) throw new RangeError(`behaviour.order must be one of ${ORDERS.map((o) => `"${o}"`).join(", ")}, got "${String(b.order)}"`);
  if (b.boundPrecisionMs !== undefined && !(Number.isInteger(b.boundPrecisionMs) && b.boundPrecisionMs >= 1)) {
    throw new RangeError(`behaviour.boundPrecisionMs must be a whole number of ms >= 1, got ${b.boundPrecisionMs}`);
  }
  if (b.rateLimit !== undefined) {
    const r = b.rateLimit;
    if (!(Number.isInteger(r.limit) && r.limit >= 1)) throw new RangeError(`behaviour.rateLimit.limit must be a whole number >= 1, got ${r.limit}`);
    if (!(Number.isFinite(r.windowMs) && r.windowMs > 0)) throw new RangeError(`behaviour.rateLimit.windowMs must be > 0, got ${r.windowMs}`);
    if (r.retryAfter !== undefined && r.retryAfter !== "seconds" && r.retryAfter !== "date") {
      throw new RangeError(`behaviour.rateLimit.retryAfter must be "seconds" or "date", got "${String(r.retryAfter)}"`);
    }
    out.rateLimit = { ...r };
  }
  return out;
}

// ---- Parsers for the api-double command line (each returns undefined for text it does not accept) ----

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "15m", "-15m", "+90s", "1h", "500ms", "1d", or a plain number of ms ("-900000"). */
export function parseSignedDuration(text: string): number | undefined {
  const m = /^([+-]?)(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m) return undefined;
  const ms = Number(m[2]) * UNITS[m[3] ?? "ms"]!;
  if (!Number.isFinite(ms)) return undefined;
  return Math.round(m[1] === "-" ? -ms : ms);
}

/** "createdAt", "lastSeenAt" (= desc), "createdAt-asc", "lastSeenAt asc", "lastSeenAt:desc", any case. */
export function parseOrder(text: string): ListingOrder | undefined {
  const m = /^\s*(createdat|lastseenat)(?:[\s:_-]+(asc|desc))?\s*$/i.exec(text);
  if (!m) return undefined;
  const field = m[1]!.toLowerCase() === "createdat" ? "createdAt" : "lastSeenAt";
  return `${field} ${(m[2] ?? "desc").toLowerCase()}` as ListingOrder;
}

/** "1s", "1d", "1000", "1ms": a positive whole number of ms. */
export function parsePrecision(text: string): number | undefined {
  if (!/^\s*\d+(ms|s|m|h|d)?\s*$/.test(text)) return undefined;
  const ms = parseSignedDuration(text);
  if (ms === undefined || ms < 1) return undefined;
  return ms;
}

/** "60/1m", "100/10s:date", "5/1000:seconds". */
export function parseRateLimit(text: string): ApiBehaviour["rateLimit"] | undefined {
  const m = /^\s*(\d+)\/([^:]+?)(?::(seconds|date))?\s*$/.exec(text);
  if (!m) return undefined;
  const limit = Number(m[1]);
  const windowMs = parseSignedDuration(m[2]!);
  if (!(limit >= 1) || windowMs === undefined || windowMs <= 0 || /^\s*[+-]/.test(m[2]!)) return undefined;
  return { limit, windowMs, retryAfter: (m[3] as "seconds" | "date" | undefined) ?? "seconds" };
}
