// The paginator of one read: seeks through a set of contacts along the API's own order, and proves when it
// has read all of them. Pure: requests go out and answers come in through the lane scheduler (lanes.ts).
//
// Page numbers over a live list skip rows (a contact that leaves the set shifts every later row up), so a
// seek never asks for page 2: each request is page 1 of "the set, and the order field at or beyond the last
// value read". The field and direction are the API's (measured by `check`: createdAt or lastSeenAt, newest- or
// oldest-first); in key space (ranges.ts) the seek always walks down. docs/design.md has the argument.
//
// What the API does with bounds is not documented: every bound is sent so that the range needed is covered
// whether bounds are inclusive or not and at the precision the API compares them (ranges.ts); rows read twice
// are de-duplicated by id.
//
// More rows sharing one bucket of the order field (one millisecond, or one second on an API that compares
// seconds) than fit in a page cannot be passed by seeking. That bucket is read on its own with page numbers
// (a "slice"), until an empty page; on an API whose order among tied rows changes per request, it is read
// again and again until a complete read brings no new id and every row it counted has been seen.
//
// On an API that returns short pages mid-list (it filters after paginating), a read ends only on an empty
// page, and a page that brings nothing new is followed by the next page number of the same request.
import { ContractError, ContradictionError } from "../errors.js";
import type { DateRange, InboxQuery } from "../api/requestBody.js";
import type { RawContact } from "../api/response.js";
import type { ApiOrder, OrderField } from "../probe/profile.js";
import { parseInstant } from "../time.js";
import { TieRead } from "./tieRead.js";
import { acceptedRange, floorTo, instantsToKeys, keysToInstants, renderRange, toKey, type BoundPolicy, type InstantRange } from "./ranges.js";

export interface SeekRequest {
  query: InboxQuery;
  page: number;
  kind: "seek" | "slice" | "next-page";
}

export interface SeekResult {
  /** Rows not returned before in this read: the ones to write. */
  fresh: RawContact[];
  done: boolean;
  /** The cursor to store with this page (a key; null: from the top of the read). */
  cursor: number | null;
  /** Rows dropped because the same _id appeared twice in the page. */
  duplicates: number;
  /** Rows whose order field does not parse (kept, but they cannot steer the cursor). */
  undated: number;
}

export interface SeekOptions {
  /** The field and direction the API lists by. */
  order: ApiOrder;
  policy: BoundPolicy;
  /** The range of the order field to read (instants, inclusive; open ends allowed). */
  range: InstantRange;
  /** Filters on the other date field, fixed for the whole read (e.g. the lastSeenAt window of a createdAt seek). */
  fixed?: Partial<Record<OrderField, InstantRange>>;
  /** Where a previous run left off: keys at or below it remain (null: the top of the range). */
  cursor: number | null;
  /** This lane's lowest key (inclusive; null: the bottom of the range). Lanes split one read for parallel requests. */
  floor?: number | null;
  /** The largest page the API is known to return; pages this big may have more behind them. */
  pageSize: number;
  /** A page size already proven in this read (by another lane); null: prove it here. */
  provenPageSize?: number | null;
  /** Short pages occur mid-list: a read ends only on an empty page. */
  endOnEmptyPage?: boolean;
  /** Tied rows may come back in another order per request: slices are re-read until proven complete. */
  unstableTies?: boolean;
  /**
   * Keys of this read that lanes of an interrupted run had read and committed: those below each `top` down to
   * its `cursor` (exclusive). A seek whose cursor falls in one jumps to its `cursor`.
   */
  skips?: Skips;
}

/** Keys an interrupted run's lanes committed: below each `top` down to its `cursor` (SeekOptions.skips). */
export type Skips = readonly { top: number; cursor: number }[];

/** Next-page requests of one anchor before the sync gives up (a run of rows the API filters out). */
const MAX_NEXT_PAGES = 1000;

interface Slice {
  /** Keys [low, high] of the slice: two buckets, so that the seek resuming below it re-reads nothing unread. */
  low: number;
  high: number;
  cursorBefore: number | null;
  tie: TieRead;
}

export class SeekWindow {
  /** Keys at or below this remain to be read (null: everything from the top). */
  private cursor: number | null;
  private pageSize: number;
  /** Ids already read, by key, that a later request can still return. */
  private readonly recent = new Map<string, number>();
  private slice: Slice | null = null;
  /** A page that brought nothing new on an API with short pages mid-list: the next page number of the same request. */
  private nextPage: { page: number } | null = null;
  private floor: number | null;
  private readonly top: number | null;
  private readonly bottom: number | null;
  private readonly quantum: number;
  /** For the density estimate: newest key read, and pages read by seeking. */
  private newest: number | null = null;
  private seekPages = 0;
  /** Keys jumped over (committed by an earlier run's lanes), left out of the density estimate. */
  private skipped = 0;
  private lastSeekRows: number | null = null;
  private proven: number | null = null;

  constructor(private readonly options: SeekOptions) {
    const keys = instantsToKeys(options.range, options.order.direction);
    this.top = keys.high;
    this.bottom = keys.low;
    this.floor = options.floor ?? null;
    this.cursor = this.jump(options.cursor ?? this.top);
    this.pageSize = Math.max(1, options.pageSize);
    this.proven = options.provenPageSize ?? null;
    this.quantum = Math.max(1, options.policy.quantumMs);
  }

  get order(): ApiOrder {
    return this.options.order;
  }

  /** Narrows this lane to keys >= floor; what lies below becomes another lane's work. */
  setFloor(floor: number): void {
    this.floor = floor;
  }

  get provenPageSize(): number | null {
    return this.proven;
  }

  /** Where the next seek request starts (a key), or null at the top. */
  get position(): number | null {
    return this.cursor;
  }

  /** Keys one full page spans here, from what was read so far (null: unknown yet). */
  get keysPerPage(): number | null {
    if (this.newest === null || this.cursor === null || this.seekPages === 0) return null;
    return Math.max(1, (this.newest - this.cursor - this.skipped) / this.seekPages);
  }

  get learnedPageSize(): number {
    return this.pageSize;
  }

  get quantumMs(): number {
    return this.quantum;
  }

  get lowestKey(): number | null {
    return this.bottom;
  }

  /** The cursor as stored in the checkpoint: a resumed run starts its seek here. */
  get checkpointCursor(): number | null {
    return this.slice ? this.slice.cursorBefore : this.cursor;
  }

  /** A new lane over the keys below `cursor` of the same read (floor: its lowest key, null: open). */
  lane(cursor: number, floor: number | null, proven: number | null): SeekWindow {
    return new SeekWindow({ ...this.options, cursor, floor, pageSize: this.pageSize, provenPageSize: proven });
  }

  /** Bucket boundaries of the order field (keys). */
  bucketStart(key: number): number {
    return floorTo(key, this.quantum);
  }

  nextRequest(): SeekRequest {
    if (this.slice) {
      return { query: this.query(this.slice.low, this.slice.high), page: this.slice.tie.page, kind: "slice" };
    }
    const low = maxKey(this.floor, this.bottom);
    const query = this.query(low, this.cursor);
    if (this.nextPage) return { query, page: this.nextPage.page, kind: "next-page" };
    return { query, page: 1, kind: "seek" };
  }

  private query(low: number | null, high: number | null): InboxQuery {
    const { order, policy, fixed = {} } = this.options;
    const query: InboxQuery = {};
    for (const [field, range] of Object.entries(fixed) as [OrderField, InstantRange][]) {
      if (field !== order.field) query[field] = renderRange(range, policy);
    }
    const own = keysToInstants(low, high, order.direction);
    if (own.from !== null || own.to !== null || policy.bothBounds) {
      query[order.field] = renderRange(own, policy);
    }
    return query;
  }

  /** The order field of a row as a key, or null when it does not parse. */
  private key(row: RawContact): number | null {
    const t = parseInstant(row[this.options.order.field]);
    return t === null ? null : toKey(t, this.options.order.direction);
  }

  /** Checks one answer against the request it answers and decides what comes next. Throws ContractError. */
  accept(request: SeekRequest, rows: RawContact[]): SeekResult {
    const { unique, duplicates } = dedupe(rows);
    const keys = unique.map((row) => this.key(row));
    this.check(request, unique, keys);
    if (unique.length > this.pageSize) this.pageSize = unique.length;

    const fresh: RawContact[] = [];
    unique.forEach((row, i) => {
      if (!this.recent.has(row._id)) fresh.push(row);
      this.recent.set(row._id, keys[i] ?? Number.POSITIVE_INFINITY);
    });
    const undated = keys.filter((k) => k === null).length;
    const result = (done: boolean): SeekResult => ({ fresh, done, cursor: this.checkpointCursor, duplicates, undated });

    if (request.kind === "slice") {
      this.acceptSlice(unique);
      return result(false);
    }
    if (unique.length === 0) return result(true);
    const dated = keys.filter((k): k is number => k !== null);
    if (dated.length === 0) {
      throw new ContractError(
        `None of the ${unique.length} contacts in a page has a ${this.options.order.field} that parses (e.g. ${JSON.stringify(unique[0]?.[this.options.order.field])}), ` +
          "so the sync cannot tell where the page ends. Nothing of this page was written; the checkpoint is unchanged.",
      );
    }
    const oldest = Math.min(...dated);

    if (this.options.endOnEmptyPage) {
      // Short pages prove nothing here; only an empty page ends the read.
      if (fresh.length === 0 && this.options.unstableTies) {
        // Page numbers cannot walk rows whose order changes per request: read the bucket as a slice, to a proven end.
        this.startSlice(oldest);
        return result(false);
      }
      if (fresh.length === 0) {
        const page = (this.nextPage?.page ?? 1) + 1;
        if (page > MAX_NEXT_PAGES) {
          throw new ContractError(
            `${MAX_NEXT_PAGES} pages in a row brought no new contact at ${this.describeKey(oldest)}; the sync cannot tell where this list ends. ` +
              "Nothing of this page was written; the checkpoint is unchanged. Run `contacts-sync check` and report what it shows.",
          );
        }
        this.nextPage = { page };
        return result(false);
      }
      this.nextPage = null;
      this.advance(dated, oldest, unique.length);
      return result(false);
    }

    // The end of the read is a page shorter than the API's page size; only a page followed by more rows proves
    // that size, in this read (one oversized answer must not make every normal page look like the last one).
    if (fresh.length > 0 && this.lastSeekRows !== null) this.proven = Math.min(this.proven ?? Infinity, this.lastSeekRows);
    const short = this.proven !== null && unique.length < this.proven;
    if (fresh.length === 0) {
      const size = this.proven ?? Math.max(this.lastSeekRows ?? 0, 2);
      if (unique.length < size) return result(true);
      // A full page of rows already read: more rows share this bucket than a page holds.
      this.startSlice(oldest);
      return result(false);
    }
    this.advance(dated, oldest, unique.length);
    return result(short);
  }

  private startSlice(oldest: number): void {
    const bucket = this.bucketStart(oldest);
    const high = bucket + this.quantum - 1;
    const tie = new TieRead(this.options.unstableTies === true, (counted) => `the ${counted} contacts sharing ${this.describeKey(high)}`);
    this.slice = { low: bucket - this.quantum, high, cursorBefore: this.cursor, tie };
  }

  /** A page that brought new rows: the next request starts at the bucket of its oldest row (rows there may follow). */
  private advance(dated: number[], oldest: number, rows: number): void {
    this.lastSeekRows = rows;
    this.newest ??= Math.max(...dated);
    this.seekPages += 1;
    this.cursor = this.jump(this.bucketStart(oldest) + this.quantum - 1);
    this.prune();
  }

  /**
   * Where a seek standing at `cursor` goes on: below the rows an earlier run's lanes committed, when the cursor
   * is among them (never below this lane's lowest key: the request must stay a range).
   */
  private jump(cursor: number | null): number | null {
    const skips = this.options.skips;
    if (cursor === null || !skips || skips.length === 0) return cursor;
    const lowest = maxKey(this.floor, this.bottom);
    for (let moved = true; moved; ) {
      moved = false;
      for (const skip of skips) {
        const target = lowest === null ? skip.cursor : Math.max(skip.cursor, lowest);
        if (skip.cursor < cursor && cursor <= skip.top && target < cursor) {
          if (this.newest !== null) this.skipped += cursor - target;
          cursor = target;
          moved = true;
        }
      }
    }
    return cursor;
  }

  private acceptSlice(rows: RawContact[]): void {
    const slice = this.slice!;
    if (rows.length > 0) return slice.tie.add(rows);
    // An empty page: one complete read of the slice; read it again where that proves nothing yet.
    if (!slice.tie.endOfRead()) return;
    // Seek on strictly below the slice. The next request's over-coverage (its upper bound reaches one bucket
    // up) lands inside the slice, which was read.
    this.slice = null;
    this.cursor = this.jump(slice.low - 1);
    this.prune();
  }

  /** Forget ids that no later request can return (keeps memory bounded by a page or two). */
  private prune(): void {
    if (this.cursor === null) return;
    // A request reaches at most one bucket above the cursor's (its bound is widened by a quantum).
    const ceiling = this.bucketStart(this.cursor) + 2 * this.quantum;
    for (const [id, k] of this.recent) if (k > ceiling && k !== Number.POSITIVE_INFINITY) this.recent.delete(id);
  }

  get remembered(): number {
    return this.recent.size;
  }

  forget(): void {
    this.recent.clear();
  }

  private describeKey(key: number): string {
    const t = toKey(key, this.options.order.direction);
    return `${this.options.order.field} ${new Date(t).toISOString()}`;
  }

  private check(request: SeekRequest, rows: RawContact[], keys: (number | null)[]): void {
    const { order } = this.options;
    for (const field of ["lastSeenAt", "createdAt"] as const) {
      const sent = request.query[field];
      if (sent) this.checkRange(field, sent, rows);
    }
    let previous = Number.POSITIVE_INFINITY;
    rows.forEach((row, i) => {
      const k = keys[i];
      if (k === null || k === undefined) return;
      if (k > previous) {
        throw new ContradictionError(
          `The inbox API did not return contacts ${order.direction === "desc" ? "newest" : "oldest"}-first by ${order.field} as measured ` +
            `(contact ${row._id} with ${order.field} ${String(row[order.field])} follows one with ${new Date(toKey(previous, order.direction)).toISOString()}). ` +
            "The sync pages along that order and cannot guarantee completeness in another, so it stopped. Nothing of this page was written; " +
            "the checkpoint is unchanged. Run `contacts-sync check` to measure the API again.",
        );
      }
      previous = k;
    });
  }

  private checkRange(field: OrderField, sent: DateRange, rows: RawContact[]): void {
    const accepted = acceptedRange(sent, this.quantum);
    if (accepted.from === Number.NEGATIVE_INFINITY && accepted.to === Number.POSITIVE_INFINITY) return;
    const shown = `${sent.from?.toISOString() ?? "open"} .. ${sent.to?.toISOString() ?? "open"}`;
    // A lastSeenAt range is the window being read; a createdAt range is where the seek stands.
    const what = field === "lastSeenAt" ? `window ${shown}` : `createdAt range (${shown})`;
    for (const row of rows) {
      const t = parseInstant(row[field]);
      if (t === null) {
        // Rows without the field cannot match a filter on it; undated createdAt rows are tolerated (kept, not steering).
        if (field === "createdAt") continue;
        throw new ContractError(
          `The inbox API returned contact ${row._id} with ${field} ${JSON.stringify(row[field] ?? null)}, which is not an ISO-8601 ` +
            `date with a time zone, so the sync cannot check that it is inside the requested ${field === "lastSeenAt" ? "window" : "range"}. Nothing of this page was written; the checkpoint is unchanged.`,
        );
      }
      if (t < accepted.from || t > accepted.to) {
        throw new ContradictionError(
          `The inbox API returned contact ${row._id} ${field === "createdAt" ? `created ${String(row[field])}` : `with ${field} ${JSON.stringify(row[field])}`}, outside the requested ${what}: ` +
            `it ignored the ${field} filter (or compares its bounds more coarsely than measured), so a page cannot be trusted to be the range. ` +
            "Nothing of this page was written; the checkpoint is unchanged. Run `contacts-sync check` to measure the API again; " +
            "also check INBOX_API_URL (another brand or API version may name the filter differently).",
        );
      }
    }
  }
}

function maxKey(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.max(a, b);
}

/** The same _id twice in one page: the later copy wins (one upsert cannot touch a row twice). */
export function dedupe(rows: RawContact[]): { unique: RawContact[]; duplicates: number } {
  const byId = new Map<string, RawContact>();
  for (const row of rows) {
    byId.delete(row._id);
    byId.set(row._id, row);
  }
  if (byId.size === rows.length) return { unique: rows, duplicates: 0 };
  const keep = new Set(byId.values());
  return { unique: rows.filter((row) => keep.has(row)), duplicates: rows.length - byId.size };
}
