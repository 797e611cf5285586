// The lane scheduler without PostgreSQL or HTTP: requests are answered from an in-memory listing, and the
// test decides in which order in-flight requests and page commits complete (seeded, many interleavings).
// What must hold under every interleaving:
//   - the stored checkpoint never passes a row that is not committed (a crash at any commit loses nothing);
//   - a read, and a read resumed from any stored checkpoint, returns every row of the range;
//   - never more requests in flight than lanes allowed.
import { describe, expect, it } from "vitest";
import type { PageAnswer } from "../../src/api/client.js";
import type { InboxQuery } from "../../src/api/requestBody.js";
import type { RawContact } from "../../src/api/response.js";
import { LANE_GROWTH, laneWidthPages, runLanes, type LanePage } from "../../src/sync/lanes.js";
import { SeekWindow, type SeekOptions, type SeekRequest } from "../../src/sync/seek.js";
import { toKey } from "../../src/sync/ranges.js";
import type { ApiOrder } from "../../src/probe/profile.js";
import { Rng } from "../../src/double/rng.js";

const T0 = Date.parse("2025-03-01T00:00:00.000Z");

interface Row extends RawContact {
  createdAt: string;
  lastSeenAt: string;
}

/** Rows with some createdAt ties (bulk imports) and distinct-enough lastSeenAt. */
function makeRows(n: number, rng: Rng): Row[] {
  const rows: Row[] = [];
  let t = T0;
  for (let i = 0; i < n; i += 1) {
    if (!rng.chance(0.15)) t += 1 + rng.int(50); // 15 %: the same millisecond as the previous one
    rows.push({ _id: `id${String(i).padStart(5, "0")}`, createdAt: new Date(t).toISOString(), lastSeenAt: new Date(t + rng.int(100_000)).toISOString() });
  }
  return rows;
}

/** The API, as a pure function: filters (inclusive, exact), then order with ties by id, then one page. */
function listing(rows: Row[], order: ApiOrder, query: InboxQuery, page: number, pageSize: number): Row[] {
  const inRange = (row: Row, field: "createdAt" | "lastSeenAt") => {
    const r = query[field];
    if (!r) return true;
    const t = Date.parse(row[field]);
    return (r.from === null || t >= r.from.getTime()) && (r.to === null || t <= r.to.getTime());
  };
  const sign = order.direction === "desc" ? -1 : 1;
  return rows
    .filter((row) => inRange(row, "createdAt") && inRange(row, "lastSeenAt"))
    .sort((a, b) => sign * (Date.parse(a[order.field]) - Date.parse(b[order.field])) || (a._id < b._id ? sign : -sign))
    .slice((page - 1) * pageSize, page * pageSize);
}

interface Pending<T> {
  resolve: () => void;
  value: T;
}

/**
 * Runs one read with every completion (answers and commits) in an order drawn from `rng`, optionally stopping
 * (a crash) after `crashAfter` commits. Returns what was committed and the checkpoint as stored.
 */
async function interleavedRead(options: {
  rows: Row[];
  order: ApiOrder;
  seek: Omit<SeekOptions, "order" | "policy" | "pageSize">;
  pageSize: number;
  maxLanes: number;
  rng: Rng;
  crashAfter?: number;
  /** Rows an earlier (crashed) run committed: the database already holds them. */
  committedBefore?: Set<string>;
  lanePages?: number;
}): Promise<{
  committed: Set<string>; checkpoint: number | null | "untouched"; violations: string[]; mostInFlight: number; crashed: boolean;
  /** Lane progress as stored (top -> cursor), and rows fetched that were committed before this read began. */
  progress: Map<number, number>; reRead: number; requests: number;
}> {
  const { rows, order, pageSize, rng } = options;
  const committed = new Set<string>(options.committedBefore ?? []);
  let checkpoint: number | null | "untouched" = "untouched";
  const progress = new Map<number, number>();
  let reRead = 0;
  let requests = 0;
  const violations: string[] = [];
  const waiting: Pending<unknown>[] = [];
  let inFlight = 0;
  let mostInFlight = 0;
  let commits = 0;
  const crash = new AbortController();
  const within = (r: Row, field: "createdAt" | "lastSeenAt", range: { from: number | null; to: number | null } | undefined) => {
    if (!range) return true;
    const t = Date.parse(r[field]);
    return (range.from === null || t >= range.from) && (range.to === null || t <= range.to);
  };
  const expected = rows.filter((r) => within(r, "lastSeenAt", options.seek.fixed?.lastSeenAt) && within(r, order.field, options.seek.range));
  const keyOf = (r: Row) => toKey(Date.parse(r[order.field]), order.direction);

  const later = <T>(value: T): Promise<T> =>
    new Promise<T>((resolve) => {
      waiting.push({ resolve: () => resolve(value), value });
    });

  const stream = new SeekWindow({ ...options.seek, order, policy: { quantumMs: 1, bothBounds: false }, pageSize });
  const run = runLanes(stream, {
    maxLanes: options.maxLanes,
    lanePages: options.lanePages ?? 2,
    signal: crash.signal,
    fetch: async (request: SeekRequest) => {
      inFlight += 1;
      requests += 1;
      mostInFlight = Math.max(mostInFlight, inFlight);
      const page = listing(rows, order, request.query, request.page, pageSize);
      reRead += page.filter((r) => options.committedBefore?.has(r._id)).length;
      const answer: PageAnswer = { rows: page, sentAt: 0, receivedAt: 0, throttled: 0, retries: 0, attempts: 1 };
      const result = await later(answer);
      inFlight -= 1;
      return result;
    },
    commit: async (page: LanePage) => {
      await later(null);
      // The transaction commits now: the page's rows and its checkpoint together.
      for (const r of page.fresh) committed.add(r._id);
      if (page.checkpoint !== undefined) {
        checkpoint = page.checkpoint;
        const c = page.checkpoint;
        // Everything above the stored cursor must be committed.
        for (const r of expected) if ((c === null ? false : keyOf(r) > c) && !committed.has(r._id)) violations.push(`${r._id} above cursor ${c} not committed`);
      } else if (page.progress) {
        // A lane's progress claims every row below its top down to its cursor is committed.
        const { top, cursor } = page.progress;
        progress.set(top, cursor);
        for (const r of expected) if (keyOf(r) > cursor && keyOf(r) <= top && !committed.has(r._id)) violations.push(`${r._id} in lane progress (${cursor}, ${top}] not committed`);
      }
      commits += 1;
      if (options.crashAfter !== undefined && commits >= options.crashAfter) crash.abort();
    },
  });
  let crashed = false;
  const settled = run.then(
    () => "done" as const,
    (error: unknown) => {
      if (crash.signal.aborted) {
        crashed = true;
        return "done" as const;
      }
      throw error;
    },
  );
  let finished = false;
  void settled.finally(() => (finished = true));
  // Drive: complete one waiting promise at a time, in a random order.
  for (let steps = 0; !finished && steps < 100_000; steps += 1) {
    await new Promise((r) => setImmediate(r));
    if (waiting.length === 0) continue;
    const [next] = waiting.splice(rng.int(waiting.length), 1);
    next!.resolve();
  }
  await settled;
  return { committed, checkpoint, violations, mostInFlight, crashed, progress, reRead, requests };
}

/** Committed rows a resumed seek may read again: the rows at the cursor's millisecond, and per lane seam a page and the rows at its cursor's millisecond. */
function readAgainAtMost(rows: Row[], order: ApiOrder, cursor: number | null, skips: { top: number; cursor: number }[], pageSize: number): number {
  const at = (key: number) => rows.filter((r) => toKey(Date.parse(r[order.field]), order.direction) === key).length;
  return (cursor === null ? 0 : at(cursor)) + skips.reduce((n, s) => n + pageSize + at(s.cursor), 0);
}

const ORDERS: ApiOrder[] = [
  { field: "createdAt", direction: "desc" },
  { field: "createdAt", direction: "asc" },
];

describe("lane scheduler (no database, no HTTP)", () => {
  for (const order of ORDERS) {
    it(`reads every row, and never stores a cursor past an uncommitted row (${order.field} ${order.direction}, 60 interleavings)`, async () => {
      for (let seed = 1; seed <= 60; seed += 1) {
        const rng = new Rng(seed);
        const rows = makeRows(300, rng);
        const result = await interleavedRead({ rows, order, seek: { range: { from: null, to: null }, cursor: null }, pageSize: 10, maxLanes: 4, rng });
        expect(result.violations, `seed ${seed}`).toEqual([]);
        expect(result.committed.size, `seed ${seed}`).toBe(rows.length);
        expect(result.mostInFlight).toBeLessThanOrEqual(4);
      }
    });

    it(`a crash at any commit resumes from the stored cursor and loses nothing (${order.field} ${order.direction})`, async () => {
      for (let seed = 1; seed <= 40; seed += 1) {
        const rng = new Rng(1000 + seed);
        const rows = makeRows(200, rng);
        const first = await interleavedRead({ rows, order, seek: { range: { from: null, to: null }, cursor: null }, pageSize: 10, maxLanes: 4, rng, crashAfter: 1 + rng.int(25) });
        expect(first.violations.slice(0, 3), `seed ${seed}`).toEqual([]);
        if (!first.crashed) continue;
        // The next run resumes as one lane from the stored cursor (or from the top when none was stored).
        const cursor = first.checkpoint === "untouched" ? null : first.checkpoint;
        const second = await interleavedRead({ rows, order, seek: { range: { from: null, to: null }, cursor }, pageSize: 10, maxLanes: 4, rng, committedBefore: first.committed });
        expect(second.violations).toEqual([]);
        const union = new Set([...first.committed, ...second.committed]);
        expect(rows.filter((r) => !union.has(r._id)).map((r) => r._id), `seed ${seed}`).toEqual([]);
      }
    });

    it(`a resumed seek jumps over what the lanes below the cursor committed, and still loses nothing (${order.field} ${order.direction})`, async () => {
      let reReadWith = 0;
      let reReadWithout = 0;
      let seams = 0;
      for (let seed = 1; seed <= 40; seed += 1) {
        const rng = new Rng(3000 + seed);
        const rows = makeRows(600, rng);
        const first = await interleavedRead({ rows, order, seek: { range: { from: null, to: null }, cursor: null }, pageSize: 10, maxLanes: 4, lanePages: 3, rng, crashAfter: 10 + rng.int(30) });
        expect(first.violations.slice(0, 3), `seed ${seed}`).toEqual([]);
        if (!first.crashed) continue;
        const cursor = first.checkpoint === "untouched" ? null : first.checkpoint;
        const skips = [...first.progress].map(([top, c]) => ({ top, cursor: c }));
        const resume = (withSkips: boolean) =>
          interleavedRead({ rows, order, seek: { range: { from: null, to: null }, cursor, skips: withSkips ? skips : [] }, pageSize: 10, maxLanes: 4, lanePages: 3, rng: new Rng(seed), committedBefore: first.committed });
        const [jumping, plain] = [await resume(true), await resume(false)];
        for (const second of [jumping, plain]) {
          expect(second.violations).toEqual([]);
          const union = new Set([...first.committed, ...second.committed]);
          expect(rows.filter((r) => !union.has(r._id)).map((r) => r._id), `seed ${seed}`).toEqual([]);
        }
        // Each seam (a lane's progress) costs at most the page that crosses into it and the rows at its cursor.
        expect(jumping.reRead, `seed ${seed}`).toBeLessThanOrEqual(readAgainAtMost(rows, order, cursor, skips, 10));
        reReadWith += jumping.reRead;
        reReadWithout += plain.reRead;
        seams += skips.length;
      }
      expect(seams).toBeGreaterThan(20);
      expect(reReadWith).toBeLessThan(reReadWithout / 2);
    });
  }

  it("follows a lastSeenAt order inside a lastSeenAt window (the window is the seek's own range)", async () => {
    for (let seed = 1; seed <= 20; seed += 1) {
      const rng = new Rng(2000 + seed);
      const rows = makeRows(300, rng);
      const order: ApiOrder = { field: "lastSeenAt", direction: "desc" };
      const from = T0 + 20_000;
      const to = T0 + 60_000;
      const result = await interleavedRead({ rows, order, seek: { range: { from, to }, cursor: null }, pageSize: 10, maxLanes: 3, rng });
      const inWindow = rows.filter((r) => Date.parse(r.lastSeenAt) >= from && Date.parse(r.lastSeenAt) <= to);
      expect(result.violations).toEqual([]);
      expect(inWindow.filter((r) => !result.committed.has(r._id))).toEqual([]);
    }
  });

  it("reads a createdAt seek inside a fixed lastSeenAt window", async () => {
    const rng = new Rng(77);
    const rows = makeRows(400, rng);
    const from = T0 + 10_000;
    const to = T0 + 50_000;
    const result = await interleavedRead({
      rows, order: ORDERS[0]!, seek: { range: { from: null, to: null }, fixed: { lastSeenAt: { from, to } }, cursor: null }, pageSize: 10, maxLanes: 4, rng,
    });
    const inWindow = rows.filter((r) => Date.parse(r.lastSeenAt) >= from && Date.parse(r.lastSeenAt) <= to);
    expect(result.violations).toEqual([]);
    expect(inWindow.filter((r) => !result.committed.has(r._id))).toEqual([]);
  });

  it("widens lanes as a read goes on: narrow for a short read, up to LANE_GROWTH x lanePages for a long one", async () => {
    expect(laneWidthPages(20, 0, 4)).toBe(20);
    expect(laneWidthPages(20, 160, 4)).toBe(20);
    expect(laneWidthPages(20, 400, 4)).toBe(50);
    expect(laneWidthPages(20, 100_000, 4)).toBe(20 * LANE_GROWTH);
    expect(laneWidthPages(20, 400, 1)).toBe(100);
    // A long read in the scheduler: every row, and fewer lanes than constant-width lanes would need.
    const rng = new Rng(11);
    const rows = makeRows(4000, rng);
    let lanes = 0;
    let requests = 0;
    const committed = new Set<string>();
    await runLanes(new SeekWindow({ order: ORDERS[0]!, policy: { quantumMs: 1, bothBounds: false }, range: { from: null, to: null }, cursor: null, pageSize: 10 }), {
      maxLanes: 4,
      lanePages: 2,
      fetch: async (request) => {
        requests += 1;
        await new Promise((r) => setImmediate(r));
        return { rows: listing(rows, ORDERS[0]!, request.query, request.page, 10), sentAt: 0, receivedAt: 0, retries: 0, attempts: 1, throttled: 0 };
      },
      commit: async (page) => {
        lanes = Math.max(lanes, page.lane + 1);
        for (const r of page.fresh) committed.add(r._id);
      },
    });
    expect(committed.size).toBe(rows.length);
    // 400 pages of keys: lanes of 2 pages would be about 200 lanes; widening to 10 pages makes far fewer.
    expect(lanes).toBeLessThan(400 / 2 / 2);
    expect(lanes).toBeGreaterThan(4);
    expect(requests).toBeLessThan(rows.length / 10 + lanes + rows.length / 10 / 4);
  });

  it("halves the lanes allowed on a page that met a 429, and wins them back on clean pages", async () => {
    const rng = new Rng(5);
    const rows = makeRows(600, rng);
    const changes: string[] = [];
    let n = 0;
    await runLanes(new SeekWindow({ order: ORDERS[0]!, policy: { quantumMs: 1, bothBounds: false }, range: { from: null, to: null }, cursor: null, pageSize: 10 }), {
      maxLanes: 4,
      lanePages: 2,
      fetch: async (request) => ({
        rows: listing(rows, ORDERS[0]!, request.query, request.page, 10), sentAt: 0, receivedAt: 0, retries: 0, attempts: 1,
        throttled: ++n % 7 === 0 ? 1 : 0,
      }),
      commit: async () => undefined,
      onConcurrency: (allowed, reason) => changes.push(`${reason}:${allowed}`),
    });
    expect(changes).toContain("throttled:2");
    expect(changes.some((c) => c.startsWith("clean:"))).toBe(true);
  });
});
