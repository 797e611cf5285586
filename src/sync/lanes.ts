// The lane scheduler: reads one range with several requests in flight, and decides which cursor may be
// stored with each page. It knows no database and no HTTP: requests go out through `fetch`, pages are
// committed through `commit` (the page sink, sink.ts), and the stream (seek.ts) decides what to ask next.
//
// A seek is sequential (each request needs the previous page's last value), so to keep several requests in
// flight the range is cut into lanes along the order field's keys, each a seek of its own bounded below.
// Only the lowest lane is open-ended. When fewer lanes run than allowed and the lowest lane has read a full
// page, it is split: its floor is set an estimated `lanePages` pages below its position, and the part below
// becomes as many new lanes as are free. Each lane fetches its next page while its current page is committed,
// and commits its pages in order.
//
// The checkpoint holds one cursor, so it may only move through lanes whose every page above it is committed:
// a page's cursor is stored only when every lane above its lane has committed its last page (and, once its
// own lane is done, the next unfinished lane's committed cursor is stored instead). A lane whose pages commit
// while a lane above it still reads stores its own progress with each page instead (its top and committed
// cursor): a crash resumes as one lane from the cursor, and that seek jumps over what each lane below had
// committed, so it re-reads about a page per lane seam rather than everything the lanes below had read.
//
// Lanes widen as the read goes on (from `lanePages` pages to LANE_GROWTH times that): each lane ends on a
// partly filled page, so fewer, wider lanes waste fewer requests on a long read, while a short read keeps
// narrow lanes and its parallelism. Stored progress keeps a wide lane from costing more after a crash.
//
// Concurrency adapts (AIMD): a page that met a 429 halves the lanes allowed; every few clean pages add one.
import { StoppedError } from "../errors.js";
import type { PageAnswer } from "../api/client.js";
import type { RawContact } from "../api/response.js";
import type { SeekRequest, SeekResult } from "./seek.js";

/** What the scheduler needs of a stream (seek.ts's SeekWindow is one). */
export interface LaneStream {
  nextRequest(): SeekRequest;
  accept(request: SeekRequest, rows: RawContact[]): SeekResult;
  /** Where the next seek request starts (a key; null: the top). */
  readonly position: number | null;
  /** Keys one full page spans so far (null: unknown yet). */
  readonly keysPerPage: number | null;
  readonly learnedPageSize: number;
  readonly provenPageSize: number | null;
  readonly quantumMs: number;
  /** The lowest key of the read (null: open): lanes are never split off below it. */
  readonly lowestKey: number | null;
  bucketStart(key: number): number;
  setFloor(floor: number): void;
  /** A new lane over keys at or below `cursor` of the same read, bounded below by `floor` (null: open). */
  lane(cursor: number, floor: number | null, proven: number | null): LaneStream;
  forget(): void;
}

/** One page ready to be committed: its new rows and the cursor that may be stored with it. */
export interface LanePage {
  lane: number;
  fresh: RawContact[];
  /** Rows the answer held (duplicates included). */
  received: number;
  answer: PageAnswer;
  /** The cursor to store with this page, or undefined: a lane above is not finished, leave the stored one. */
  checkpoint: number | null | undefined;
  /** When `checkpoint` is undefined: this lane's progress to store instead (keys below `top` down to `cursor` are read). */
  progress?: { top: number; cursor: number };
  /** The page size to store (proven in this read, else the largest seen). */
  pageSize: number;
  duplicates: number;
  undated: number;
}

export interface LaneOptions {
  /** Most lanes at once (SYNC_CONCURRENCY). 1 reads one page ahead only. */
  maxLanes: number;
  /** Pages of keys one lane covers before the lane below it takes over. */
  lanePages: number;
  fetch(request: SeekRequest, signal: AbortSignal): Promise<PageAnswer>;
  /** Writes a page and, when given, its checkpoint, atomically. The scheduler calls it for one lane's pages in order. */
  commit(page: LanePage): Promise<void>;
  signal?: AbortSignal;
  /** Told when the lanes allowed change (a 429 halved them, clean pages raised them). */
  onConcurrency?(allowed: number, reason: "throttled" | "clean"): void;
}

export interface LaneOutcome {
  /** The page size to store: proven in this read, else the largest seen. */
  pageSize: number;
  lanes: number;
}

/** Clean pages (no 429 meanwhile) before one more lane is allowed: additive increase. */
export const CLEAN_PAGES_PER_STEP = 4;
/** The widest lane, in multiples of `lanePages`. */
export const LANE_GROWTH = 5;

/**
 * Pages of keys the next lanes cover: `lanePages` until the read has read 2 x lanes x lanePages pages, then
 * growing with what the read has read (an eighth of it at four lanes), up to LANE_GROWTH x lanePages.
 */
export function laneWidthPages(lanePages: number, pagesRead: number, maxLanes: number): number {
  return Math.min(lanePages * LANE_GROWTH, Math.max(lanePages, Math.floor(pagesRead / (2 * Math.max(1, maxLanes)))));
}

interface Lane {
  index: number;
  stream: LaneStream;
  /** Where the lane started (null: the top of the read). */
  top: number | null;
  done: boolean;
  committedDone: boolean;
  /** The lane's resume point as committed (starts at its top). */
  committedCursor: number | null;
}

export async function runLanes(first: LaneStream, options: LaneOptions): Promise<LaneOutcome> {
  const max = Math.max(1, options.maxLanes);
  let allowed = max;
  let cleanPages = 0;
  let pageSize = first.learnedPageSize;
  let proven: number | null = first.provenPageSize;
  const knownPageSize = () => proven ?? pageSize;
  const lanes: Lane[] = [];
  const running: Promise<void>[] = [];
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  let failure: unknown;
  let pagesRead = 0;

  const fetch = (request: SeekRequest) => {
    const promise = options.fetch(request, signal);
    promise.catch(() => undefined); // observed when awaited; never an unhandled rejection
    return promise;
  };

  const adapt = (answer: PageAnswer) => {
    if (answer.throttled > 0) {
      cleanPages = 0;
      const next = Math.max(1, Math.floor(allowed / 2));
      if (next !== allowed) {
        allowed = next;
        options.onConcurrency?.(allowed, "throttled");
      }
    } else if (++cleanPages >= CLEAN_PAGES_PER_STEP && allowed < max) {
      allowed += 1;
      cleanPages = 0;
      options.onConcurrency?.(allowed, "clean");
    }
  };

  const addLane = (stream: LaneStream, cursor: number | null) => {
    const lane: Lane = { index: lanes.length, stream, top: cursor, done: false, committedDone: false, committedCursor: cursor };
    lanes.push(lane);
    running.push(
      runLane(lane).catch((error: unknown) => {
        failure ??= error;
        stop.abort(); // the other lanes stop at their next request; committed pages stay
      }),
    );
  };

  const maybeSplit = (lane: Lane, pageRows: number) => {
    if (lane !== lanes[lanes.length - 1] || lane.done || pageRows < knownPageSize()) return;
    const free = allowed - lanes.filter((l) => !l.done).length;
    if (free <= 0) return;
    const position = lane.stream.position;
    const span = lane.stream.keysPerPage;
    if (position === null || span === null) return;
    const quantum = lane.stream.quantumMs;
    // Lanes are whole buckets wide (a bucket is the least the API can tell apart), and at least two.
    const raw = Math.floor(span * laneWidthPages(options.lanePages, pagesRead, max));
    if (raw < 3) return;
    const width = Math.max(2 * quantum, lane.stream.bucketStart(raw));
    let at = lane.stream.bucketStart(position - width);
    const lowest = lane.stream.lowestKey;
    if (at >= position || (lowest !== null && at <= lowest)) return;
    lane.stream.setFloor(at);
    // As many new lanes as are free, each `width` below the last; the lowest stays open-ended. A lane starting
    // at `at` reads keys at or below at - 1: the lanes partition the keys, overlapping only where bounds are widened.
    for (let i = 1; i < free && (lowest === null || at - width > lowest); i += 1) {
      addLane(lane.stream.lane(at - 1, at - width, proven), at - 1);
      at -= width;
    }
    addLane(lane.stream.lane(at - 1, null, proven), at - 1);
  };

  const resumePoint = (lane: Lane, own: number | null): number | null | undefined => {
    const index = lanes.indexOf(lane);
    if (!lanes.slice(0, index).every((l) => l.committedDone)) return undefined; // a lane above is not done
    if (!lane.done) return own;
    const next = lanes.slice(index + 1).find((l) => !l.committedDone);
    return next ? next.committedCursor : own;
  };

  async function runLane(lane: Lane): Promise<void> {
    let request = lane.stream.nextRequest();
    let pending = fetch(request);
    for (;;) {
      const answer = await pending;
      if (signal.aborted) throw options.signal?.aborted ? new StoppedError() : new Error("stopped: another lane failed");
      const result = lane.stream.accept(request, answer.rows);
      pagesRead += 1;
      pageSize = Math.max(pageSize, lane.stream.learnedPageSize);
      proven = lane.stream.provenPageSize ?? proven;
      let next: SeekRequest | undefined;
      if (result.done) lane.done = true;
      else {
        next = lane.stream.nextRequest();
        pending = fetch(next);
      }
      adapt(answer);
      maybeSplit(lane, answer.rows.length);
      const checkpoint = resumePoint(lane, result.cursor);
      await options.commit({
        lane: lane.index,
        fresh: result.fresh,
        received: answer.rows.length,
        answer,
        checkpoint,
        ...(checkpoint === undefined && lane.top !== null && result.cursor !== null ? { progress: { top: lane.top, cursor: result.cursor } } : {}),
        pageSize: knownPageSize(),
        duplicates: result.duplicates,
        undated: result.undated,
      });
      lane.committedCursor = result.cursor;
      if (lane.done) {
        lane.committedDone = true;
        lane.stream.forget();
        return;
      }
      request = next!;
    }
  }

  try {
    addLane(first, first.position);
    // Lanes are added while others run: wait until every lane, including late ones, has finished.
    for (let awaited = 0; awaited < running.length; ) {
      const end = running.length;
      await Promise.all(running.slice(awaited, end));
      awaited = end;
    }
  } finally {
    stop.abort();
  }
  if (failure !== undefined) throw failure;
  return { pageSize: knownPageSize(), lanes: lanes.length };
}
