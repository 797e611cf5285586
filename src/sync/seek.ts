// Reading one window completely while the data under it moves.
//
// Page numbers over a live, newest-first list skip rows: when a contact on an earlier page leaves the
// window (it was seen again, so its lastSeenAt moved past the window), every later row moves up one place
// and one of them slides onto a page already read. So the window is read by *seeking* instead: every
// request asks for page 1 of "createdAt at or before the oldest createdAt read so far". Each answer is a
// fresh query anchored on a value, not on an offset, so nothing that stays inside the window can be
// skipped (docs/design.md has the argument). The API's order (newest-first by createdAt) is checked on
// every page; an answer that breaks it, or ignores the window, stops the run before anything is written.
//
// Whether the API's date bounds are inclusive is not documented. Every bound below is chosen so that the
// rows needed are covered under either reading; extra rows are de-duplicated by id.
//
// More contacts sharing one millisecond of createdAt than fit in a page (a bulk import) cannot be passed
// by seeking; that millisecond is read on its own with page numbers (a "slice"), then seeking resumes below it.
import { ContractError } from "../errors.js";
import type { DateRange, InboxQuery } from "../api/requestBody.js";
import type { RawContact } from "../api/response.js";
import { instant } from "../records/mapContact.js";

const MS = 1;

export interface SeekRequest {
  query: InboxQuery;
  page: number;
  kind: "seek" | "slice";
}

export interface SeekResult {
  /** Rows not returned before in this window: the ones to write. */
  fresh: RawContact[];
  done: boolean;
  /** The seek cursor to store with this page (null: from the top of the window). */
  cursor: Date | null;
  /** Rows dropped because the same _id appeared twice in the page. */
  duplicates: number;
  /** Rows whose createdAt does not parse (kept, but they cannot steer the cursor). */
  undated: number;
}

export interface SeekOptions {
  /** The lastSeenAt window, as the logical range [from, to] that must be covered (null: no such filter). */
  lastSeenAt: { from: Date; to: Date } | null;
  /** Cover createdAt up to and including this instant (null: no upper bound). */
  createdUpTo: Date | null;
  /** Where a previous run left off: the createdAt bound of the next seek request. */
  cursor: Date | null;
  /** The largest page the API is known to return; pages this big may have more behind them. */
  pageSize: number;
  /** Lower createdAt bound of this lane (inclusive; null: none). Lanes split one window for parallel reads. */
  createdFrom?: Date | null;
  /** A page size already proven in this run (by another lane of the same window); null: prove it here. */
  provenPageSize?: number | null;
}

/**
 * An instant read exactly as the columns read it (records/mapContact.ts: ISO-8601 with a zone, or epoch ms).
 * JavaScript's own parser would also take "05/06/2024", roll "2024-02-30" over to 1 March and read zone-less
 * times in the server's time zone: such a createdAt would steer the seek past contacts it never read.
 */
function parseTime(value: unknown): number | null {
  const iso = instant(value);
  return iso === null ? null : Date.parse(iso);
}

export class SeekWindow {
  /** The next seek request's createdAt endsAt (as sent). null = no createdAt filter. */
  private cursor: Date | null;
  private pageSize: number;
  /** Ids already read whose createdAt can still come back (at or above the cursor's lower reach). */
  private readonly recent = new Map<string, number>();
  private slice: { at: number; page: number; cursorBefore: Date | null } | null = null;
  private readonly lastSeenAt: DateRange | undefined;
  private floor: Date | null;
  /** For the density estimate: newest createdAt read, and pages read by seeking. */
  private newest: number | null = null;
  private seekPages = 0;
  /** Rows of the last seek page that added rows; that page is proven full when the next one adds rows too. */
  private lastSeekRows: number | null = null;
  /** The API's page size as proven in this read (smallest page followed by more rows); null until then. */
  private proven: number | null = null;

  constructor(private readonly options: SeekOptions) {
    // The window [from, to] is widened by 1 ms each side: covered whether or not the API includes its bounds.
    this.lastSeenAt = options.lastSeenAt
      ? { from: new Date(options.lastSeenAt.from.getTime() - MS), to: new Date(options.lastSeenAt.to.getTime() + MS) }
      : undefined;
    // endsAt = X + 1 ms covers createdAt <= X under either reading.
    this.cursor = options.cursor ?? (options.createdUpTo ? new Date(options.createdUpTo.getTime() + MS) : null);
    this.pageSize = Math.max(1, options.pageSize);
    this.floor = options.createdFrom ?? null;
    this.proven = options.provenPageSize ?? null;
  }

  /** Narrows this lane to createdAt >= floor; what lies below becomes another lane's work. */
  setFloor(floor: Date): void {
    this.floor = floor;
  }

  /** The page size proven in this read (a page followed by more rows), or null. */
  get provenPageSize(): number | null {
    return this.proven;
  }

  /** Where the next seek request starts (createdAt endsAt), or null at the top. */
  get position(): Date | null {
    return this.cursor;
  }

  /** Milliseconds of createdAt one full page spans here, from what was read so far (null: unknown yet). */
  get msPerPage(): number | null {
    if (this.newest === null || this.cursor === null || this.seekPages === 0) return null;
    return Math.max(1, (this.newest - this.cursor.getTime()) / this.seekPages);
  }

  get learnedPageSize(): number {
    return this.pageSize;
  }

  /** The cursor as stored in the checkpoint: a resumed run starts its seek here. */
  get checkpointCursor(): Date | null {
    return this.slice ? this.slice.cursorBefore : this.cursor;
  }

  nextRequest(): SeekRequest {
    if (this.slice) {
      // A slice covers [at, at] under either reading: exclusive bounds give (at-2, at+1) = [at-1, at].
      const createdAt = { from: new Date(this.slice.at - 2 * MS), to: new Date(this.slice.at + MS) };
      return { query: this.query(createdAt), page: this.slice.page, kind: "slice" };
    }
    // A lane's floor is sent 1 ms lower: covered whether or not the API includes the bound.
    const from = this.floor ? new Date(this.floor.getTime() - MS) : null;
    const createdAt = this.cursor || from ? { from, to: this.cursor } : undefined;
    return { query: this.query(createdAt), page: 1, kind: "seek" };
  }

  private query(createdAt: DateRange | undefined): InboxQuery {
    const query: InboxQuery = {};
    if (this.lastSeenAt) query.lastSeenAt = this.lastSeenAt;
    if (createdAt) query.createdAt = createdAt;
    return query;
  }

  /** Checks one answer against the request it answers and decides what comes next. Throws ContractError. */
  accept(request: SeekRequest, rows: RawContact[]): SeekResult {
    const { unique, duplicates } = dedupe(rows);
    const times = unique.map((row) => parseTime(row.createdAt));
    this.check(request, unique, times);
    if (unique.length > this.pageSize) this.pageSize = unique.length;

    const fresh: RawContact[] = [];
    unique.forEach((row, i) => {
      if (!this.recent.has(row._id)) fresh.push(row);
      this.recent.set(row._id, times[i] ?? Number.POSITIVE_INFINITY);
    });
    const undated = times.filter((t) => t === null).length;
    const dated = times.filter((t): t is number => t !== null);

    if (request.kind === "slice") {
      const slice = this.slice!;
      if (unique.length === 0) {
        // The slice is exhausted; seek on strictly below it. endsAt = at-1 ms covers <= at-2 ms
        // (exclusive) or <= at-1 ms (inclusive); the slice covered [at-1, at] either way.
        this.slice = null;
        this.cursor = new Date(slice.at - MS);
        this.prune();
      } else {
        slice.page += 1;
      }
      return { fresh, done: false, cursor: this.checkpointCursor, duplicates, undated };
    }

    if (unique.length === 0) return { fresh, done: true, cursor: this.checkpointCursor, duplicates, undated };
    if (dated.length === 0) {
      throw new ContractError(
        `None of the ${unique.length} contacts in a page has a createdAt that parses (e.g. ${JSON.stringify(unique[0]?.createdAt)}), ` +
          "so the sync cannot tell where the page ends. Nothing of this page was written; the checkpoint is unchanged.",
      );
    }
    const oldest = Math.min(...dated);
    // The end of the read is a page shorter than the API's page size. The largest page ever seen is no proof
    // of that size (one oversized answer, or an API that lowered its page size, would make every normal page
    // look like the last one and end the read early): only a page followed by more rows proves it, in this read.
    if (fresh.length > 0 && this.lastSeekRows !== null) this.proven = Math.min(this.proven ?? Infinity, this.lastSeekRows);
    const short = this.proven !== null && unique.length < this.proven;
    if (fresh.length === 0) {
      // A page of rows already read: the end, or more contacts at one millisecond than a page holds. Before a
      // page size is proven, the last page that added rows bounds it from below (a page holds no more).
      const size = this.proven ?? Math.max(this.lastSeekRows ?? 0, 2);
      if (unique.length < size) return { fresh, done: true, cursor: this.checkpointCursor, duplicates, undated };
      // A full page of rows already read: more contacts share this createdAt than a page holds.
      this.slice = { at: oldest, page: 1, cursorBefore: this.cursor };
      return { fresh, done: false, cursor: this.checkpointCursor, duplicates, undated };
    }
    // Next: createdAt <= oldest (endsAt = oldest + 1 ms). Rows at `oldest` not yet read may follow.
    this.lastSeekRows = unique.length;
    this.newest ??= Math.max(...dated);
    this.seekPages += 1;
    this.cursor = new Date(oldest + MS);
    this.prune();
    return { fresh, done: short, cursor: this.checkpointCursor, duplicates, undated };
  }

  /** Forget ids that no later request can return (keeps memory bounded by a page or two). */
  private prune(): void {
    if (!this.cursor) return;
    // The read goes newest-first: the next request asks for createdAt at or below the cursor, so a row newer
    // than that can never come back. Rows without a parsable createdAt (Infinity) are kept: they cannot be placed.
    const ceiling = this.cursor.getTime() + MS;
    for (const [id, t] of this.recent) if (t > ceiling && t !== Number.POSITIVE_INFINITY) this.recent.delete(id);
  }

  /** Ids remembered to tell repeated rows from new ones (about a page; tests check it stays so). */
  get remembered(): number {
    return this.recent.size;
  }

  /** A finished read keeps nothing. */
  forget(): void {
    this.recent.clear();
  }

  private check(request: SeekRequest, rows: RawContact[], times: (number | null)[]): void {
    const lastSeen = request.query.lastSeenAt;
    if (lastSeen) {
      const from = lastSeen.from!.getTime() - MS;
      const to = lastSeen.to!.getTime() + MS;
      for (const row of rows) {
        const t = parseTime(row.lastSeenAt);
        if (t === null) {
          throw new ContractError(
            `The inbox API returned contact ${row._id} with lastSeenAt ${JSON.stringify(row.lastSeenAt ?? null)}, which is not an ISO-8601 ` +
              "date with a time zone, so the sync cannot check that it is inside the requested window. Nothing of this page was written; the checkpoint is unchanged.",
          );
        }
        if (t < from || t > to) {
          throw new ContractError(
            `The inbox API returned contact ${row._id} with lastSeenAt ${JSON.stringify(row.lastSeenAt ?? null)}, outside the requested ` +
              `window ${lastSeen.from!.toISOString()} .. ${lastSeen.to!.toISOString()}: it ignored the lastSeenAt filter, so a page ` +
              "cannot be trusted to be the window. Nothing of this page was written; the checkpoint is unchanged. " +
              "Check INBOX_API_URL (another brand or API version may name the filter differently).",
          );
        }
      }
    }
    const created = request.query.createdAt;
    if (created) {
      const to = created.to ? created.to.getTime() : Number.POSITIVE_INFINITY;
      const from = created.from ? created.from.getTime() : Number.NEGATIVE_INFINITY;
      rows.forEach((row, i) => {
        const t = times[i];
        if (t !== null && t !== undefined && (t > to || t < from)) {
          throw new ContractError(
            `The inbox API returned contact ${row._id} created ${String(row.createdAt)}, outside the requested createdAt range ` +
              `(${created.from?.toISOString() ?? "open"} .. ${created.to?.toISOString() ?? "open"}): it ignored the createdAt filter, which the sync relies on to page safely. ` +
              "Nothing of this page was written; the checkpoint is unchanged.",
          );
        }
      });
    }
    let previous = Number.POSITIVE_INFINITY;
    rows.forEach((row, i) => {
      const t = times[i];
      if (t === null || t === undefined) return;
      if (t > previous) {
        throw new ContractError(
          `The inbox API did not return contacts newest-first by createdAt (contact ${row._id} created ${String(row.createdAt)} ` +
            `follows one created ${new Date(previous).toISOString()}). The sync pages by createdAt and cannot guarantee ` +
            "completeness in another order, so it stopped. Nothing of this page was written; the checkpoint is unchanged.",
        );
      }
      previous = t;
    });
  }
}

/** The same _id twice in one page: the later copy wins (one upsert cannot touch a row twice). */
export function dedupe(rows: RawContact[]): { unique: RawContact[]; duplicates: number } {
  const byId = new Map<string, RawContact>();
  for (const row of rows) {
    byId.delete(row._id);
    byId.set(row._id, row);
  }
  if (byId.size === rows.length) return { unique: rows, duplicates: 0 };
  // Keep the page order of the surviving copies.
  const keep = new Set(byId.values());
  return { unique: rows.filter((row) => keep.has(row)), duplicates: rows.length - byId.size };
}
