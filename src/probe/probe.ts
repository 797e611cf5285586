// `check`'s measurement: what the inbox API actually does, found out from its answers alone, read-only and
// within a request budget. Each finding is one small experiment (a function below) that says what it saw;
// an experiment that cannot get evidence (too few contacts, the budget spent, a precondition unproven)
// answers null and the strategy (profile.ts) takes the safe side for it.
//
// The order matters: the listing read by page number comes first (page size, order, short pages, ties and
// the unlisted flags are judged on it, at no extra cost); the date-filter experiments need a honoured
// two-sided range before precision and ties can be measured through ranges.
import { setTimeout as sleep } from "node:timers/promises";
import type { InboxClient, PageAnswer } from "../api/client.js";
import type { DateRange, InboxQuery } from "../api/requestBody.js";
import type { RawContact } from "../api/response.js";
import { StoppedError } from "../errors.js";
import type { Logger } from "../log.js";
import type { ApiOrder, ApiProfile, Direction, OrderField } from "./profile.js";
import { DATE_TRUNCATION_MS, median, skewSample } from "../sync/clock.js";
import { parseInstant } from "../time.js";

export interface ProbeOptions {
  /** Most HTTP requests the probe may make, retries included (default 40). */
  maxRequests?: number;
  signal?: AbortSignal;
  logger: Logger;
  /** The user's INBOX_FILTERS (the client sends them); a flag the user sets is not "unlisted". */
  filters?: Record<string, unknown>;
  /**
   * The same API and token with other filters: lets the unlisted-flags experiment ask for
   * `userInteracted: true` when every row read had it false. Without it that case stays unmeasured.
   */
  withFilters?: (filters: Record<string, unknown>) => InboxClient;
  /** Longest wait for a rate-limit window to reset (default 60 s); a longer reset ends the probe's spacing at this. */
  maxRateLimitWaitMs?: number;
}

/** What `check` found: the profile the sync plans with, plus what the strategy does not (yet) take as input. */
export interface ProbedProfile extends ApiProfile {
  /** A listed two-sided range returns only rows inside it (createdAt, lastSeenAt); null: not testable. */
  dateFiltersHonoured: { createdAt: boolean | null; lastSeenAt: boolean | null };
}

export const DEFAULT_MAX_REQUESTS = 40;
/** Pages read by number from the unfiltered listing: enough to see a page size, an order and short pages. */
const LISTING_PAGES = 6;
/** Extra pages read far down the listing, only when the first pages hold no tie group. */
const SPARSE_PAGES = [8, 12, 16, 24, 32, 48];
/** Strict steps the rows must take in one direction before an order is believed (2/720 by chance). */
const MIN_ORDER_STEPS = 5;
const PRECISIONS_MS = [1, 1_000, 60_000, 3_600_000, 86_400_000];
const DAY_MS = 86_400_000;
/** The Date header is whole seconds, truncated: on average half a second behind the instant it names. */
const STAMP_FIELDS = ["createdAt", "lastSeenAt", "updatedAt"] as const;
const PINNED_FLAGS = ["userInteracted", "isOnline", "isLiveChatActive"] as const;

class BudgetSpent extends Error {
  override name = "BudgetSpent";
}

/** One answer as the probe saw it. */
export interface Sample {
  sentAt: number;
  receivedAt: number;
  serverDate?: number;
  rows: RawContact[];
}

/** The probe's only way to the API: counts requests against the budget, records every answer, respects rate limits. */
export class ProbeSession {
  used = 0;
  readonly samples: Sample[] = [];
  rateLimit: PageAnswer["rateLimit"] | null = null;
  throttled = 0;
  private waitUntil = 0;

  constructor(
    private readonly client: InboxClient,
    readonly max: number,
    private readonly logger: Logger,
    private readonly signal: AbortSignal | undefined,
    private readonly maxWaitMs: number,
  ) {}

  get left(): number {
    return this.max - this.used;
  }

  async page(query: InboxQuery, page: number, via: InboxClient = this.client): Promise<RawContact[]> {
    if (this.signal?.aborted) throw new StoppedError();
    if (this.used >= this.max) throw new BudgetSpent();
    const wait = this.waitUntil - Date.now();
    if (wait > 0) {
      this.logger.info({ waitMs: wait }, "check: the API's rate-limit window is used up; waiting for it to reset");
      await sleep(wait, undefined, { signal: this.signal }).catch(() => undefined);
      if (this.signal?.aborted) throw new StoppedError();
    }
    const before = via.requests;
    const answer = await via.fetchPage({ query, page, ...(this.signal ? { signal: this.signal } : {}) });
    this.used += Math.max(answer.attempts, via.requests - before);
    this.throttled += answer.throttled;
    this.samples.push({ sentAt: answer.sentAt, receivedAt: answer.receivedAt, rows: answer.rows, ...(answer.serverDate !== undefined ? { serverDate: answer.serverDate } : {}) });
    if (answer.rateLimit) this.noteRateLimit(answer);
    return answer.rows;
  }

  /** When the window is used up, the next request waits for its reset (bounded): the client would only meet 429s. */
  private noteRateLimit(answer: PageAnswer): void {
    const rl = answer.rateLimit!;
    this.rateLimit = { ...this.rateLimit, ...rl };
    if (rl.remaining !== 0 || rl.reset === undefined) return;
    // X-RateLimit-Reset is epoch seconds on some APIs and seconds from now on others; epoch seconds are on the API's clock.
    const waitMs = rl.reset > 1e9 ? rl.reset * 1000 - (answer.serverDate ?? answer.receivedAt) : rl.reset * 1000;
    this.waitUntil = Date.now() + Math.min(Math.max(0, waitMs), this.maxWaitMs);
  }
}

/** Reads the API, read-only, within `maxRequests`; an auth, request or shape ApiError propagates as the client raised it. */
export async function probeApi(client: InboxClient, options: ProbeOptions): Promise<ProbedProfile> {
  const { logger, signal, filters = {} } = options;
  const session = new ProbeSession(client, options.maxRequests ?? DEFAULT_MAX_REQUESTS, logger, signal, options.maxRateLimitWaitMs ?? 60_000);
  const notes: string[] = [];
  const measuredAt = new Date().toISOString();

  // Not guarded: the first request is the authentication check, and its error is the answer.
  const listing = await readListing(session);
  const rows = listing.pages.flat();
  const pageSize = pageSizeOf(listing.lengths);
  // Judged within each page: on a busy inbox rows shift between two requests, so page seams can overlap.
  const orderFound = detectOrderInPages(listing.pages);
  if (orderFound.note) notes.push(orderFound.note);
  const order = orderFound.order;
  const short = shortPagesOf(listing.lengths, pageSize);
  if (pageSize !== null && short === true) notes.push(`page lengths read: ${listing.lengths.join(", ")} (a page shorter than ${pageSize} was followed by more)`);
  if (listing.lengths[0] === 0) notes.push("the account lists no contacts: nothing about the order, ties or filters could be measured");

  const guarded = async <T>(name: string, fallback: T, run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (error) {
      if (!(error instanceof BudgetSpent)) throw error;
      notes.push(`${name}: not measured, the request budget (${session.max}) was spent`);
      return fallback;
    }
  };

  const honoured = {
    createdAt: await guarded("createdAt filter", null, () => twoSidedHonoured(session, rows, "createdAt", notes)),
    lastSeenAt: await guarded("lastSeenAt filter", null, () => twoSidedHonoured(session, rows, "lastSeenAt", notes)),
  };
  notes.push("whether an unlisted date range is applied was not measured: the client lists every range it sends");
  const bothBoundsRequired = await guarded("one-sided ranges", null, () => oneSidedIgnored(session, listing.pages[0] ?? [], honoured.createdAt, notes));
  const rangeField: OrderField = order?.field ?? "createdAt";
  const bounds = await guarded("bound precision", { precisionMs: null, inclusive: null }, () =>
    boundPrecision(session, listing.pages[0] ?? [], rangeField, honoured[rangeField], notes));

  let ties = order ? findTieGroup(rows, order.field) : null;
  if (order && !ties && listing.ended === false) {
    ties = await guarded("tie search", null, () => searchTieGroup(session, order.field));
  }
  const stableTies = await guarded("tie stability", null, () =>
    tieStability(session, ties, order, pageSize, honoured[order?.field ?? "createdAt"], bounds, notes));
  const withFilters = options.withFilters ?? ((f: Record<string, unknown>) => client.withFilters(f));
  const unlisted = await guarded("unlisted filters", null, () => unlistedFlagsApplied(session, rows, order, filters, withFilters, notes));

  const clock = clockSkew(session.samples);
  notes.push(...clock.notes);
  const times = session.samples.map((s) => s.receivedAt - s.sentAt);
  if (session.throttled > 0) notes.push(`${session.throttled} answer(s) were 429 (retried by the client)`);
  const profile: ProbedProfile = {
    measuredAt,
    pageSize,
    order,
    stableTies,
    shortPagesMidList: short,
    bothBoundsRequired,
    boundPrecisionMs: bounds.precisionMs,
    boundsInclusive: bounds.inclusive,
    unlistedFiltersApplied: unlisted,
    clockSkewMs: clock.skewMs,
    responseMs: times.length ? { median: Math.round(median(times)), max: Math.max(...times) } : null,
    rateLimit: session.rateLimit ?? null,
    requests: session.used,
    notes,
    dateFiltersHonoured: honoured,
  };
  logger.debug({ profile }, "check: API profile measured");
  return profile;
}

// ---- the listing read by page number --------------------------------------------------------------------

export interface Listing {
  /** Rows of pages 1, 2, ... in order (the last may be the empty page that ended the list). */
  pages: RawContact[][];
  lengths: number[];
  /** True when an empty page was read (the whole list was seen); false when reading stopped first. */
  ended: boolean;
}

async function readListing(session: ProbeSession): Promise<Listing> {
  const pages: RawContact[][] = [];
  for (let page = 1; page <= LISTING_PAGES; page++) {
    const rows = page === 1 ? await session.page({}, page) : await session.page({}, page).catch((e) => { if (e instanceof BudgetSpent) return null; throw e; });
    if (rows === null) break;
    pages.push(rows);
    if (rows.length === 0) return { pages, lengths: pages.map((p) => p.length), ended: true };
  }
  return { pages, lengths: pages.map((p) => p.length), ended: false };
}

/** The largest page followed by a non-empty page: a page that did not end the list was full. */
export function pageSizeOf(lengths: number[]): number | null {
  let size: number | null = null;
  for (let i = 0; i + 1 < lengths.length; i++) if (lengths[i + 1]! > 0) size = Math.max(size ?? 0, lengths[i]!);
  return size;
}

/**
 * A page shorter than the page size followed by a non-empty page. Needs two pages that did not end the
 * list: with one, its length is the page size by definition and nothing is proven either way.
 */
export function shortPagesOf(lengths: number[], pageSize: number | null): boolean | null {
  if (pageSize === null) return null;
  const notLast = lengths.filter((_, i) => i + 1 < lengths.length && lengths[i + 1]! > 0);
  if (notLast.some((n) => n < pageSize)) return true;
  return notLast.length >= 2 ? false : null;
}

export function stampOf(row: RawContact, field: string): number | null {
  // The program's one strict parser: a stamp the sync could not read must not steer what check concludes.
  const v = row[field];
  return typeof v === "string" ? parseInstant(v) : null;
}

/**
 * The field and direction the rows follow. lastSeenAt may be null for contacts never seen: those may only
 * sit at the end of a descending order or the start of an ascending one. When both fields fit (contacts
 * never seen after creation), createdAt is taken and a note says so.
 */
export function detectOrder(rows: RawContact[]): { order: ApiOrder | null; note?: string } {
  const fits: { order: ApiOrder; steps: number }[] = [];
  for (const field of ["createdAt", "lastSeenAt"] as const) {
    for (const direction of ["desc", "asc"] as const) {
      const steps = stepsInOrder(rows, field, direction);
      if (steps !== null && steps >= MIN_ORDER_STEPS) fits.push({ order: { field, direction }, steps });
    }
  }
  if (fits.length === 0) {
    const distinct = new Set(rows.map((r) => stampOf(r, "createdAt"))).size;
    return {
      order: null,
      note: distinct <= MIN_ORDER_STEPS
        ? `too few rows (${rows.length}) to tell the listing's order`
        : `the ${rows.length} rows read follow no order of createdAt or lastSeenAt`,
    };
  }
  if (fits.length > 1) {
    return { order: fits[0]!.order, note: `both createdAt and lastSeenAt fit the order of the ${rows.length} rows read; createdAt assumed` };
  }
  return { order: fits[0]!.order };
}

/**
 * The order the pages follow, each judged on its own: rows created or seen between two requests shift the
 * list, so the first row of a page may sort above the last row of the page before (a busy inbox is not an
 * unordered one). Steps are summed over the pages.
 */
export function detectOrderInPages(pages: RawContact[][]): { order: ApiOrder | null; note?: string } {
  const nonEmpty = pages.filter((p) => p.length > 0);
  const rows = nonEmpty.flat();
  const fits: { order: ApiOrder; steps: number }[] = [];
  for (const field of ["createdAt", "lastSeenAt"] as const) {
    for (const direction of ["desc", "asc"] as const) {
      let steps = 0;
      for (const page of nonEmpty) {
        const s = stepsInOrder(page, field, direction);
        if (s === null) {
          steps = -1;
          break;
        }
        steps += s;
      }
      if (steps >= MIN_ORDER_STEPS) fits.push({ order: { field, direction }, steps });
    }
  }
  if (fits.length === 0) {
    // Too few rows, or none in order: detectOrder words which (read whole, the rows can fit an order only by chance).
    const whole = detectOrder(rows);
    return whole.order === null ? whole : { order: null, note: `the ${rows.length} rows read follow no order of createdAt or lastSeenAt within their pages` };
  }
  if (fits.length > 1) return { order: fits[0]!.order, note: `both createdAt and lastSeenAt fit the order of the ${rows.length} rows read; createdAt assumed` };
  return { order: fits[0]!.order };
}

/** Strict steps in `direction` when the rows are monotonic in it (nulls placed as allowed), else null. */
function stepsInOrder(rows: RawContact[], field: OrderField, direction: Direction): number | null {
  const values = rows.map((r) => stampOf(r, field));
  const firstNonNull = values.findIndex((v) => v !== null);
  const lastNonNull = values.length - 1 - [...values].reverse().findIndex((v) => v !== null);
  if (firstNonNull === -1) return null;
  const nullsOk = field === "lastSeenAt"
    ? values.every((v, i) => v !== null || (direction === "desc" ? i > lastNonNull : i < firstNonNull))
    : values.every((v) => v !== null);
  if (!nullsOk) return null;
  let steps = 0;
  let previous: number | null = null;
  for (const v of values) {
    if (v === null) continue;
    if (previous !== null) {
      if (direction === "desc" ? v > previous : v < previous) return null;
      if (v !== previous) steps++;
    }
    previous = v;
  }
  return steps;
}

// ---- date filters ---------------------------------------------------------------------------------------

function range(from: number, to: number): DateRange {
  return { from: new Date(from), to: new Date(to) };
}

/** Values of `field` among the rows, ascending, nulls left out. */
function sortedValues(rows: RawContact[], field: OrderField): number[] {
  return rows.map((r) => stampOf(r, field)).filter((v): v is number => v !== null).sort((a, b) => a - b);
}

/**
 * A listed two-sided range between two values the rows show returns only rows inside it (a day of slack:
 * the precision is not known yet). The range leaves out the newest and oldest rows read, so an API that
 * ignores it answers with rows outside.
 */
async function twoSidedHonoured(session: ProbeSession, rows: RawContact[], field: OrderField, notes: string[]): Promise<boolean | null> {
  const values = sortedValues(rows, field);
  if (values.length < 8) return null;
  const lo = values[Math.floor(values.length / 4)]!;
  const hi = values[Math.floor((values.length * 3) / 4)]!;
  if (lo === hi) return null;
  const answer = await session.page({ [field]: range(lo, hi) }, 1);
  const outside = answer.filter((r) => {
    const v = stampOf(r, field);
    return v === null || v < lo - DAY_MS || v > hi + DAY_MS;
  });
  if (outside.length > 0) {
    notes.push(`a listed ${field} range was ignored: ${outside.length} of ${answer.length} rows came back outside it`);
    return false;
  }
  if (answer.length === 0) {
    notes.push(`a listed ${field} range around rows the listing shows returned nothing`);
    return false;
  }
  return true;
}

/**
 * `startAt: ""` (up to X) and `endsAt: ""` (from X), with X the middle createdAt of page 1: an API that
 * applies a range only when both ends are set answers page 1 of the whole list, which has rows on both sides.
 */
async function oneSidedIgnored(session: ProbeSession, page1: RawContact[], twoSided: boolean | null, notes: string[]): Promise<boolean | null> {
  if (twoSided !== true) return null;
  const values = sortedValues(page1, "createdAt");
  if (values.length < 4) return null;
  const mid = values[Math.floor(values.length / 2)]!;
  // Page 1 must show rows on both sides of X, or an API that ignores the range would answer the same rows
  // (a bulk import filling page 1) and look like one that honours it.
  if (!(values[0]! < mid && values[values.length - 1]! > mid)) {
    notes.push("one-sided ranges: page 1 holds no rows on both sides of one createdAt (a bulk import?): not measurable");
    return null;
  }
  const upTo = await session.page({ createdAt: { from: null, to: new Date(mid) } }, 1);
  const from = await session.page({ createdAt: { from: new Date(mid), to: null } }, 1);
  const aboveUpTo = upTo.filter((r) => (stampOf(r, "createdAt") ?? -Infinity) > mid).length;
  const belowFrom = from.filter((r) => (stampOf(r, "createdAt") ?? Infinity) < mid).length;
  if (aboveUpTo > 0) notes.push(`createdAt {startAt: "", endsAt: X} was ignored (${aboveUpTo} rows above X came back)`);
  if (belowFrom > 0) notes.push(`createdAt {startAt: X, endsAt: ""} was ignored (${belowFrom} rows below X came back)`);
  return aboveUpTo > 0 || belowFrom > 0;
}

/**
 * The smallest p for which [v - p, v + p] returns a row whose value v has mid-second milliseconds (an API
 * that floors bounds to seconds drops it at p = 1 ms). The row is taken from page 1 of the listing in the
 * field's own order, so it is on page 1 of any range around it. Inclusivity from [v, v], at 1 ms only.
 */
async function boundPrecision(
  session: ProbeSession,
  page1: RawContact[],
  field: OrderField,
  twoSided: boolean | null,
  notes: string[],
): Promise<{ precisionMs: number | null; inclusive: boolean | null }> {
  const none = { precisionMs: null, inclusive: null };
  if (twoSided !== true) return none;
  // Far from every coarser boundary too, so that [v - p, v + p] floored at a precision above p cannot reach the
  // row by crossing one (a second, minute, hour or day boundary): else that precision would read as p.
  const midSecond = (v: number) => v % 1000 >= 100 && v % 1000 <= 899;
  const clearOfBoundaries = (v: number) => {
    const d = new Date(v);
    return d.getUTCSeconds() >= 2 && d.getUTCSeconds() <= 57 && d.getUTCMinutes() >= 2 && d.getUTCMinutes() <= 57 && d.getUTCHours() >= 2 && d.getUTCHours() <= 21;
  };
  const candidates = page1.filter((r) => { const v = stampOf(r, field); return v !== null && midSecond(v); });
  const row = candidates.find((r) => clearOfBoundaries(stampOf(r, field)!)) ?? candidates[0];
  if (!row) {
    notes.push(`bound precision: no row of page 1 has a ${field} with mid-second milliseconds`);
    return none;
  }
  const v = stampOf(row, field)!;
  const has = (rows: RawContact[]) => rows.some((r) => r._id === row._id);
  for (const p of PRECISIONS_MS) {
    if (has(await session.page({ [field]: range(v - p, v + p) }, 1))) {
      if (p !== 1) return { precisionMs: p, inclusive: null };
      return { precisionMs: 1, inclusive: has(await session.page({ [field]: range(v, v) }, 1)) };
    }
  }
  notes.push(`bound precision: a ${field} range of ±1 day around a row never returned it`);
  return none;
}

// ---- ties -----------------------------------------------------------------------------------------------

export interface TieGroup {
  field: OrderField;
  value: number;
  ids: string[];
}

/** The largest group of rows sharing one value of the sort field (nulls are not a tie group). */
export function findTieGroup(rows: RawContact[], field: OrderField): TieGroup | null {
  const groups = new Map<number, string[]>();
  for (const r of rows) {
    const v = stampOf(r, field);
    if (v === null) continue;
    const ids = groups.get(v) ?? [];
    if (!ids.includes(r._id)) ids.push(r._id);
    groups.set(v, ids);
  }
  let best: TieGroup | null = null;
  for (const [value, ids] of groups) if (ids.length >= 2 && (!best || ids.length > best.ids.length)) best = { field, value, ids };
  return best;
}

/** A few pages further down the listing, for a tie group the first pages do not show (bulk imports sit anywhere). */
async function searchTieGroup(session: ProbeSession, field: OrderField): Promise<TieGroup | null> {
  for (const page of SPARSE_PAGES) {
    if (session.left < 10) return null; // keep requests for the stability and flag tests
    const rows = await session.page({}, page);
    if (rows.length === 0) return null;
    const group = findTieGroup(rows, field);
    if (group) return group;
  }
  return null;
}

/**
 * The tie group's value range read twice (more for a small group, where two equal shuffles are likely);
 * unstable when the id sequences differ. Reads the range's next page while the group may continue.
 */
async function tieStability(
  session: ProbeSession,
  group: TieGroup | null,
  order: ApiOrder | null,
  pageSize: number | null,
  twoSided: boolean | null,
  bounds: { precisionMs: number | null; inclusive: boolean | null },
  notes: string[],
): Promise<boolean | null> {
  if (!group || !order) return null;
  if (twoSided !== true) {
    notes.push(`tie group of ${group.ids.length} rows found, but its range could not be read (the ${group.field} filter is not proven honoured)`);
    return null;
  }
  // [v, v] when the API is proven to compare milliseconds inclusively; otherwise a range one precision wider.
  const widen = bounds.precisionMs === 1 && bounds.inclusive === true ? 0 : (bounds.precisionMs ?? 1000);
  const query = { [group.field]: range(group.value - widen, group.value + widen) };
  const reads = group.ids.length >= 4 ? 2 : 4;
  const sequences: string[][] = [];
  for (let i = 0; i < reads; i++) {
    const ids: string[] = [];
    // The range may hold other rows before the group (a wider range than the one value): page on while pages
    // are full and the group has not been passed.
    for (let page = 1; page <= 6; page++) {
      const rows = await session.page(query, page);
      ids.push(...rows.filter((r) => stampOf(r, group.field) === group.value).map((r) => r._id));
      const last = rows[rows.length - 1];
      const full = pageSize !== null ? rows.length >= pageSize : rows.length > 0;
      const lastValue = last ? stampOf(last, group.field) : null;
      const passed = lastValue !== null && (order.direction === "desc" ? lastValue < group.value : lastValue > group.value);
      if (!full || !last || passed) break;
    }
    sequences.push(ids);
  }
  if (sequences.some((s) => s.length < 2)) {
    notes.push(`tie group of ${group.ids.length} rows sharing ${group.field} ${new Date(group.value).toISOString()}: its rows could not be read back together; stability not measured`);
    return null;
  }
  const first = sequences[0]!.join(",");
  const stable = sequences.every((s) => s.join(",") === first);
  notes.push(`tie group: ${Math.max(group.ids.length, sequences[0]!.length)} rows sharing ${group.field} ${new Date(group.value).toISOString()}, read ${reads} times: ${stable ? "same order each time" : "the order differed"}`);
  return stable;
}

// ---- unlisted filter values -----------------------------------------------------------------------------

/**
 * The sync sends userInteracted, isOnline and isLiveChatActive as false without listing them. A row with
 * one of them true proves they are not applied. When every row read has them false, the same listing is
 * asked for `userInteracted: true` (listed): such rows inside the span already read that the plain listing
 * left out prove the sent value was applied.
 */
async function unlistedFlagsApplied(
  session: ProbeSession,
  rows: RawContact[],
  order: ApiOrder | null,
  filters: Record<string, unknown>,
  withFilters: ProbeOptions["withFilters"],
  notes: string[],
): Promise<boolean | null> {
  const pinned = PINNED_FLAGS.filter((f) => !(f in filters));
  if (pinned.length === 0 || rows.length === 0) return null;
  const seenTrue = pinned.filter((f) => rows.some((r) => r[f] === true));
  if (seenTrue.length > 0) {
    if (seenTrue.length < pinned.length) notes.push(`unlisted flags: rows with ${seenTrue.join(", ")} true came back (sent false, unlisted); none had ${pinned.filter((f) => !seenTrue.includes(f)).join(", ")} true`);
    return false;
  }
  if (!pinned.includes("userInteracted") || !withFilters || !order) {
    notes.push("unlisted flags: every row read had them false, and no request with another value could be made");
    return null;
  }
  const variant = withFilters({ ...filters, userInteracted: true });
  let others: RawContact[];
  try {
    others = await session.page({}, 1, variant);
  } finally {
    await variant.close();
  }
  const interacted = others.filter((r) => r.userInteracted === true);
  const span = rows.map((r) => stampOf(r, order.field)).filter((v): v is number => v !== null);
  const [lo, hi] = [Math.min(...span), Math.max(...span)];
  const read = new Set(rows.map((r) => r._id));
  const missed = interacted.filter((r) => {
    const v = stampOf(r, order.field);
    return v !== null && v > lo && v < hi && !read.has(r._id);
  });
  if (missed.length > 0) {
    notes.push(`unlisted flags: ${missed.length} contacts with userInteracted true, inside the span read, were left out of the plain listing (it sends userInteracted: false unlisted)`);
    return true;
  }
  notes.push(interacted.length === 0
    ? "unlisted flags: no contact with userInteracted true exists (or the listed filter is ignored): not measurable"
    : "unlisted flags: the contacts with userInteracted true lie outside the span read: not measurable");
  return null;
}

// ---- clock ----------------------------------------------------------------------------------------------

/**
 * API clock minus ours: the median over answers of Date - midpoint(sent, received), plus the half second the
 * Date header truncates. The newest stamps cross-check it: a stamp later than our clock at receipt (by more
 * than noise) proves the API ahead by at least that much.
 */
export function clockSkew(samples: Sample[]): { skewMs: number | null; notes: string[] } {
  const notes: string[] = [];
  const dated = samples.map(skewSample).filter((v): v is number => v !== null);
  let skewMs: number | null = dated.length ? Math.round(median(dated)) : null;
  const rtt = samples.length ? median(samples.map((s) => s.receivedAt - s.sentAt)) : 0;
  if (skewMs !== null) notes.push(`clock: from ${dated.length} Date headers (whole seconds: ±${Math.round(DATE_TRUNCATION_MS + rtt / 2)} ms)`);
  else notes.push("clock: the API sends no usable Date header");
  let ahead: { byMs: number; field: string; stamp: string } | null = null;
  for (const s of samples) {
    for (const r of s.rows) {
      for (const f of STAMP_FIELDS) {
        const v = stampOf(r, f);
        if (v !== null && v - s.receivedAt > 2_000 && (!ahead || v - s.receivedAt > ahead.byMs)) ahead = { byMs: v - s.receivedAt, field: f, stamp: String(r[f]) };
      }
    }
  }
  if (ahead) {
    notes.push(`clock: a contact's ${ahead.field} ${ahead.stamp} was ${(ahead.byMs / 1000).toFixed(1)} s later than our clock when it arrived: the API is at least that far ahead`);
    if (skewMs === null) skewMs = ahead.byMs;
    else if (ahead.byMs > skewMs + 2_000) notes.push("clock: the stamps put the API further ahead than its Date header does; the Date header is used");
  }
  return { skewMs, notes };
}

