// What the inbox API actually does (found out by `check`, src/probe/probe.ts, and stored per account), and
// the strategy the sync derives from it. Pure: no I/O here.
//
// Nothing in this profile is documented by BotPenguin. Every field is either measured, or null when the
// measurement was impossible (an account with too few contacts to show it); the strategy then takes the side
// that is safe whatever the answer is, and says what that costs.

export type OrderField = "createdAt" | "lastSeenAt";
export type Direction = "desc" | "asc";

export interface ApiOrder {
  field: OrderField;
  direction: Direction;
}

export interface ApiProfile {
  /** When it was measured (ISO-8601). */
  measuredAt: string;
  /** Rows in a full page; null: no page was full (fewer contacts than a page). */
  pageSize: number | null;
  /** The listing's primary order; null: the rows follow no order of either field (or there were too few to tell). */
  order: ApiOrder | null;
  /** Rows sharing the sort value come back in the same order on every request; null: no tie group to test. */
  stableTies: boolean | null;
  /** Pages shorter than the page size occur before the end of the list (filtering after paginating). */
  shortPagesMidList: boolean | null;
  /** A date filter takes effect only when both startAt and endsAt are given (one-sided ranges are ignored). */
  bothBoundsRequired: boolean | null;
  /** The precision at which bounds are compared (1 = ms, 1000 = s, 86400000 = a day); null: not measured. */
  boundPrecisionMs: number | null;
  /** Bounds include the values equal to them; null: not measured. */
  boundsInclusive: boolean | null;
  /** A filter value sent but not listed in applicableFilters (userInteracted: false...) is applied anyway. */
  unlistedFiltersApplied: boolean | null;
  /** The API's clock minus ours (ms), from its Date header (and its newest stamps); null: no Date header. */
  clockSkewMs: number | null;
  /** Response times of the probe's requests (ms). */
  responseMs: { median: number; max: number } | null;
  /** Rate-limit headers seen (as sent), or null when the API sends none. */
  rateLimit: { limit?: number; remaining?: number; reset?: number; retryAfter?: string } | null;
  /** Requests the measurement took. */
  requests: number;
  /** Anything measured that does not fit a field above (one line each), shown by `check`. */
  notes: string[];
}

/** How the sync reads this API. */
export interface Strategy {
  /** The field and direction the seek follows (the API's own order). */
  order: ApiOrder;
  /** Bounds are widened to this precision (ms): a bound compared at whole seconds is sent a second wider. */
  quantumMs: number;
  /** Send both ends of every date range (a far-past floor / far-future ceiling instead of ""). */
  bothBounds: boolean;
  /** A read ends only on an empty page (short pages occur mid-list), not on a short one. */
  endOnEmptyPage: boolean;
  /** Rows sharing a sort value may come back in another order per request: tie groups are re-read until proven complete. */
  unstableTies: boolean;
  /** API clock minus ours (ms), planned with; 0 when unknown. */
  clockSkewMs: number;
  /** What the sync does, one phrase per decision (shown by `check` and `status`). */
  decisions: string[];
}

export type StrategyPlan = { ok: true; strategy: Strategy } | { ok: false; reasons: string[] };

/** The documented guess: what the sync assumed before it measured anything. Used where nothing is known yet. */
export const GUESSED_ORDER: ApiOrder = { field: "createdAt", direction: "desc" };

/** Skews smaller than this are noise of the Date header's one-second precision and the round trip. */
export const SKEW_NOISE_MS = 2_000;

export function describeOrder(order: ApiOrder | null): string {
  return order ? `${order.field} ${order.direction}` : "none";
}

/**
 * The strategy for a profile, or why none is safe. Unknowns take the safe side: an unmeasured precision is
 * taken as whole seconds, unmeasured one-sided ranges as ignored, unmeasured tie stability as unstable and
 * unmeasured short pages as possible (each costs little; each wrong guess the other way loses contacts).
 */
export function planStrategy(profile: ApiProfile, filters: Record<string, unknown> = {}): StrategyPlan {
  const reasons: string[] = [];
  // Too few contacts to show an order (no full page): nothing can be skipped in a list that fits one page. The
  // documented guess is taken, checked on every page; a page that breaks it makes the sync measure again.
  const tentative = profile.order === null && profile.pageSize === null;
  if (profile.order === null && !tentative) {
    reasons.push(
      "The API lists contacts in no order of createdAt or lastSeenAt that the sync could find, so no read can be proven complete " +
        "(a page cannot tell where the next one starts). Nothing can make this safe from contacts-sync's side.",
    );
  }
  if (profile.unlistedFiltersApplied) {
    const pinned = ["userInteracted", "isOnline", "isLiveChatActive"].filter((f) => !(f in filters));
    if (pinned.length > 0) {
      reasons.push(
        `The API applies filter values that are sent but not listed in applicableFilters (${pinned.join(", ")}: false), so every ` +
          "request would return only the contacts matching them: the mirror would be a subset. The documented body requires " +
          "these fields, so no request can leave them out. Report this to the API's provider; contacts-sync will not mirror a subset silently.",
      );
    }
  }
  if (profile.stableTies === false && profile.shortPagesMidList === true) {
    reasons.push(
      "The API orders tied rows differently per request AND returns short pages mid-list: a tie group larger than a page can then " +
        "neither be counted nor read to a proven end. Nothing can make this safe from contacts-sync's side.",
    );
  }
  if (reasons.length > 0) return { ok: false, reasons };

  const order = profile.order ?? GUESSED_ORDER;
  const decisions: string[] = [tentative ? `seek on ${describeOrder(order)} (too few contacts to measure the order: checked on every page)` : `seek on ${describeOrder(order)}`];
  const quantumMs = Math.max(1, profile.boundPrecisionMs ?? 1000);
  if (profile.boundPrecisionMs === null) decisions.push("bounds widened to whole seconds (precision not measured)");
  else if (quantumMs > 1) decisions.push(`bounds widened to ${quantumMs} ms (the API's precision)`);
  const bothBounds = profile.bothBoundsRequired !== false;
  decisions.push(bothBounds ? "both bounds always sent" : "one-sided ranges (proven honoured)");
  const endOnEmptyPage = profile.shortPagesMidList !== false;
  if (endOnEmptyPage) decisions.push(profile.shortPagesMidList ? "reads end on an empty page (short pages mid-list)" : "reads end on an empty page (short pages not ruled out)");
  const unstableTies = profile.stableTies !== true;
  if (unstableTies) decisions.push(profile.stableTies === false ? "tie groups re-read until complete (unstable order)" : "tie groups re-read until complete (stability not measured)");
  const clockSkewMs = profile.clockSkewMs ?? 0;
  if (Math.abs(clockSkewMs) >= SKEW_NOISE_MS) decisions.push(`windows planned on the API's clock (${formatSkew(clockSkewMs)})`);
  return { ok: true, strategy: { order, quantumMs, bothBounds, endOnEmptyPage, unstableTies, clockSkewMs, decisions } };
}

export function formatSkew(ms: number): string {
  const sign = ms < 0 ? "-" : "+";
  const abs = Math.abs(ms);
  if (abs >= 60_000) return `${sign}${(abs / 60_000).toFixed(1)} min`;
  return `${sign}${(abs / 1000).toFixed(1)} s`;
}
