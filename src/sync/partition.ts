// A read that needs no order at all: the range of createdAt is cut into parts small enough that each part's
// whole result fits in one page. An answer shorter than the (proven) page size is then that part complete,
// whatever order the rows came in. Used where a seek cannot be: a full pass over an API that lists by
// lastSeenAt (a seek on a field that moves while the pass reads would skip the contacts seen meanwhile, and a
// lastSeenAt filter never returns the contacts never seen at all). createdAt never moves, so parts stay put.
//
// Parts are read top-down (newest createdAt first) as a stack; the checkpoint cursor is the top of the part
// being read: every createdAt above it is complete. A part of one bucket (rows sharing one createdAt, more
// than a page) is walked with page numbers to an empty page, re-read until proven complete when tied rows
// may change order. On an API with short pages mid-list, a part is walked to an empty page instead.
// Costs more requests than a seek (about 1.5 per page of contacts, as parts are split in four when full).
import { ContractError } from "../errors.js";
import type { InboxQuery } from "../api/requestBody.js";
import type { RawContact } from "../api/response.js";
import type { OrderField } from "../probe/profile.js";
import { parseInstant } from "../time.js";
import { acceptedRange, FAR_FUTURE_MS, FAR_PAST_MS, floorTo, renderRange, type BoundPolicy, type InstantRange } from "./ranges.js";
import { dedupe, type SeekRequest, type SeekResult } from "./seek.js";
import { TieRead } from "./tieRead.js";
import type { LaneStream } from "./lanes.js";

export interface PartitionOptions {
  policy: BoundPolicy;
  /** The createdAt range to read (instants, inclusive). */
  range: InstantRange;
  fixed?: Partial<Record<OrderField, InstantRange>>;
  /** Resume point: every createdAt above it is complete (null: from the top). */
  cursor: number | null;
  /** The page size proven in an earlier read; null: prove it with the first part. */
  provenPageSize: number | null;
  endOnEmptyPage: boolean;
  unstableTies: boolean;
}

/** Parts a full part is cut into. */
const SPLIT = 4;

interface Part {
  low: number;
  high: number;
}

interface Walk {
  /** The part's rows by page number (null: walking only to prove the page size with page 2). */
  tie: TieRead | null;
  /** Rows of the part's page 1, already read. */
  first: RawContact[];
}

export class PartitionRead implements LaneStream {
  private readonly stack: Part[];
  private walk: Walk | null = null;
  private proven: number | null;
  private largest = 1;
  private readonly quantum: number;
  private readonly bottom: number;
  private readonly recent = new Map<string, number>();

  constructor(private readonly options: PartitionOptions) {
    this.quantum = Math.max(1, options.policy.quantumMs);
    this.bottom = options.range.from ?? FAR_PAST_MS;
    const top = Math.min(options.cursor ?? Number.POSITIVE_INFINITY, options.range.to ?? FAR_FUTURE_MS);
    this.stack = top >= this.bottom ? [{ low: this.bottom, high: top }] : [];
    this.proven = options.provenPageSize;
  }

  get position(): number | null {
    const top = this.stack[this.stack.length - 1];
    return top ? top.high : this.bottom - 1;
  }

  /** Parts are not split into lanes: one request at a time, the next fetched while a page is written. */
  readonly keysPerPage = null;

  get learnedPageSize(): number {
    return Math.max(this.largest, this.proven ?? 1);
  }

  get provenPageSize(): number | null {
    return this.proven;
  }

  get quantumMs(): number {
    return this.quantum;
  }

  get lowestKey(): number | null {
    return this.bottom;
  }

  bucketStart(key: number): number {
    return floorTo(key, this.quantum);
  }

  setFloor(): void {
    throw new Error("a partitioned read is not split into lanes");
  }

  lane(): LaneStream {
    throw new Error("a partitioned read is not split into lanes");
  }

  forget(): void {
    this.recent.clear();
  }

  nextRequest(): SeekRequest {
    const part = this.stack[this.stack.length - 1];
    if (!part) throw new Error("the partitioned read is complete");
    return { query: this.query(part), page: this.walk ? (this.walk.tie?.page ?? 2) : 1, kind: this.walk ? "slice" : "seek" };
  }

  private query(part: Part): InboxQuery {
    const { policy, fixed = {} } = this.options;
    const query: InboxQuery = {};
    if (fixed.lastSeenAt) query.lastSeenAt = renderRange(fixed.lastSeenAt, policy);
    query.createdAt = renderRange({ from: part.low, to: part.high }, policy);
    return query;
  }

  accept(request: SeekRequest, rows: RawContact[]): SeekResult {
    const { unique, duplicates } = dedupe(rows);
    this.check(request, unique);
    if (unique.length > this.largest) this.largest = unique.length;
    const fresh: RawContact[] = [];
    let undated = 0;
    for (const row of unique) {
      const t = parseInstant(row.createdAt);
      if (t === null) undated += 1;
      if (!this.recent.has(row._id)) fresh.push(row);
      this.recent.set(row._id, t ?? Number.POSITIVE_INFINITY);
    }
    const part = this.stack[this.stack.length - 1]!;

    if (this.walk) this.acceptWalk(part, unique);
    else this.acceptFirstPage(part, unique);
    const done = this.stack.length === 0;
    return { fresh, done, cursor: done ? null : this.position, duplicates, undated };
  }

  private acceptFirstPage(part: Part, rows: RawContact[]): void {
    if (rows.length === 0) return this.complete();
    if (this.options.endOnEmptyPage) {
      // A short page proves nothing: split what can be split, walk the rest to an empty page.
      return this.canSplit(part) ? this.split(part) : this.startWalk(part, rows, false);
    }
    if (this.proven === null) return this.startWalk(part, rows, true);
    if (rows.length < this.proven) return this.complete();
    if (rows.length > this.proven) this.proven = rows.length;
    return this.canSplit(part) ? this.split(part) : this.startWalk(part, rows, false);
  }

  /** Walks the part with page numbers from page 2 (`proving`: only page 2, to prove the page size). */
  private startWalk(part: Part, first: RawContact[], proving: boolean): void {
    const what = () => `the contacts created ${new Date(part.low).toISOString()} .. ${new Date(part.high).toISOString()}`;
    this.walk = { tie: proving ? null : new TieRead(this.options.unstableTies, what, first), first };
  }

  private acceptWalk(part: Part, rows: RawContact[]): void {
    const walk = this.walk!;
    if (walk.tie === null) {
      this.walk = null;
      if (rows.length === 0) return this.complete(); // the whole part fitted in one page
      this.proven = walk.first.length; // a page followed by more rows: the page size, proven
      return this.canSplit(part) ? this.split(part) : this.startWalk(part, walk.first, false);
    }
    if (rows.length > 0) return walk.tie.add(rows);
    if (!walk.tie.endOfRead()) return;
    this.walk = null;
    this.complete();
  }

  private canSplit(part: Part): boolean {
    return floorTo(part.high, this.quantum) > floorTo(part.low, this.quantum);
  }

  /** Replaces the part by SPLIT parts of whole buckets; the newest is read next (top of the stack). */
  private split(part: Part): void {
    this.stack.pop();
    const q = this.quantum;
    const first = floorTo(part.low, q);
    const buckets = (floorTo(part.high, q) - first) / q + 1;
    const per = Math.max(1, Math.ceil(buckets / SPLIT));
    for (let low = part.low, end = first + per * q - 1; low <= part.high; end += per * q) {
      const high = Math.min(part.high, end);
      this.stack.push({ low, high });
      low = high + 1;
    }
  }

  private complete(): void {
    const part = this.stack.pop()!;
    // Ids newer than what any later request can return are forgotten (memory stays about a page).
    const ceiling = part.low + 2 * this.quantum;
    for (const [id, t] of this.recent) if (t > ceiling && t !== Number.POSITIVE_INFINITY) this.recent.delete(id);
  }

  private check(request: SeekRequest, rows: RawContact[]): void {
    const sent = request.query.createdAt!;
    const accepted = acceptedRange(sent, this.quantum);
    for (const row of rows) {
      const t = parseInstant(row.createdAt);
      if (t !== null && (t < accepted.from || t > accepted.to)) {
        throw new ContractError(
          `The inbox API returned contact ${row._id} created ${JSON.stringify(row.createdAt)}, outside the requested createdAt range ` +
            `${sent.from?.toISOString() ?? "open"} .. ${sent.to?.toISOString() ?? "open"}: it ignored the createdAt filter, which a full pass over ` +
            "this API relies on. Nothing of this page was written; the checkpoint is unchanged. Run `contacts-sync check` to measure the API again.",
        );
      }
    }
  }
}
