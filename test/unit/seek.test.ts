// The seek planner on its own: requests it makes, how it reacts to pages, and the answers it refuses.
import { describe, expect, it } from "vitest";
import { SeekWindow, dedupe } from "../../src/sync/seek.js";
import type { RawContact } from "../../src/api/response.js";
import { ContractError } from "../../src/errors.js";

const T = Date.parse("2025-01-01T00:00:00.000Z");
const row = (id: string, createdMs: number, lastSeenMs = T + 1000): RawContact => ({
  _id: id,
  createdAt: new Date(createdMs).toISOString(),
  lastSeenAt: new Date(lastSeenMs).toISOString(),
});
const window = { from: new Date(T), to: new Date(T + 10_000) };

/** The documented guess (createdAt newest-first, exact bounds), as the sync read before it measured anything. */
const GUESS = { order: { field: "createdAt", direction: "desc" } as const, policy: { quantumMs: 1, bothBounds: false } };

function seekOf(o: { lastSeenAt: { from: Date; to: Date } | null; createdUpTo: Date | null; cursor: Date | null; pageSize: number }): SeekWindow {
  return new SeekWindow({
    ...GUESS,
    range: { from: null, to: o.createdUpTo?.getTime() ?? null },
    fixed: o.lastSeenAt ? { lastSeenAt: { from: o.lastSeenAt.from.getTime(), to: o.lastSeenAt.to.getTime() } } : {},
    cursor: o.cursor?.getTime() ?? null,
    pageSize: o.pageSize,
  });
}

describe("SeekWindow", () => {
  it("asks page 1 of the whole window first, widened by 1 ms each side", () => {
    const seek = seekOf({ lastSeenAt: window, createdUpTo: null, cursor: null, pageSize: 3 });
    const req = seek.nextRequest();
    expect(req).toMatchObject({ page: 1, kind: "seek" });
    expect(req.query.lastSeenAt?.from?.toISOString()).toBe(new Date(T - 1).toISOString());
    expect(req.query.lastSeenAt?.to?.toISOString()).toBe(new Date(T + 10_001).toISOString());
    expect(req.query.createdAt).toBeUndefined();
  });

  it("seeks below the oldest createdAt read, re-reading that millisecond, and ends on a page with nothing new", () => {
    const seek = seekOf({ lastSeenAt: window, createdUpTo: null, cursor: null, pageSize: 3 });
    let req = seek.nextRequest();
    let res = seek.accept(req, [row("c", 300), row("b", 200), row("a", 100)]);
    expect(res.fresh.map((r) => r._id)).toEqual(["c", "b", "a"]);
    expect(res.done).toBe(false);
    req = seek.nextRequest();
    // endsAt = oldest + 1 ms covers createdAt <= 100 whether the API includes its bound or not.
    expect(req.query.createdAt?.to?.getTime()).toBe(101);
    // The stored cursor is the oldest createdAt read (inclusive): a resumed run re-reads that millisecond.
    expect(res.cursor).toBe(100);
    res = seek.accept(req, [row("a", 100), row("z", 100), row("y", 50)]);
    expect(res.fresh.map((r) => r._id)).toEqual(["z", "y"]);
    req = seek.nextRequest();
    expect(req.query.createdAt?.to?.getTime()).toBe(51);
    res = seek.accept(req, [row("y", 50)]);
    expect(res).toMatchObject({ fresh: [], done: true });
  });

  it("is done at once on an empty first page", () => {
    const seek = seekOf({ lastSeenAt: window, createdUpTo: null, cursor: null, pageSize: 3 });
    expect(seek.accept(seek.nextRequest(), []).done).toBe(true);
  });

  it("learns the page size from the largest page seen", () => {
    const seek = seekOf({ lastSeenAt: null, createdUpTo: null, cursor: null, pageSize: 1 });
    seek.accept(seek.nextRequest(), [row("c", 300), row("b", 200), row("a", 100)]);
    expect(seek.learnedPageSize).toBe(3);
  });

  it("resumes from a stored cursor", () => {
    const seek = seekOf({ lastSeenAt: window, createdUpTo: null, cursor: new Date(5000), pageSize: 3 });
    expect(seek.nextRequest().query.createdAt?.to?.getTime()).toBe(5001);
  });

  it("bounds a reconcile pass by createdUpTo, covering that instant", () => {
    const seek = seekOf({ lastSeenAt: null, createdUpTo: new Date(T), cursor: null, pageSize: 3 });
    const req = seek.nextRequest();
    expect(req.query.lastSeenAt).toBeUndefined();
    expect(req.query.createdAt?.to?.getTime()).toBe(T + 1);
  });

  it("reads a millisecond holding more contacts than a page as a slice with page numbers, then seeks below it", () => {
    const seek = seekOf({ lastSeenAt: null, createdUpTo: null, cursor: null, pageSize: 3 });
    let req = seek.nextRequest();
    seek.accept(req, [row("t1", 100), row("t2", 100), row("t3", 100)]);
    req = seek.nextRequest();
    // Same three again: a full page and nothing new -> slice at 100.
    let res = seek.accept(req, [row("t1", 100), row("t2", 100), row("t3", 100)]);
    expect(res.done).toBe(false);
    req = seek.nextRequest();
    expect(req).toMatchObject({ kind: "slice", page: 1 });
    expect(req.query.createdAt?.from?.getTime()).toBe(98);
    expect(req.query.createdAt?.to?.getTime()).toBe(101);
    res = seek.accept(req, [row("t1", 100), row("t2", 100), row("t3", 100)]);
    req = seek.nextRequest();
    expect(req).toMatchObject({ kind: "slice", page: 2 });
    res = seek.accept(req, [row("t4", 100), row("t5", 100)]);
    expect(res.fresh.map((r) => r._id)).toEqual(["t4", "t5"]);
    req = seek.nextRequest();
    expect(req).toMatchObject({ kind: "slice", page: 3 });
    // While a slice is read, the stored cursor stays where the slice began: a resumed run redoes it.
    expect(res.cursor).toBe(100);
    res = seek.accept(req, []);
    req = seek.nextRequest();
    expect(req.kind).toBe("seek");
    expect(req.query.createdAt?.to?.getTime()).toBe(99);
    res = seek.accept(req, [row("old", 10)]);
    expect(res.fresh.map((r) => r._id)).toEqual(["old"]);
  });

  it("refuses a page that is not newest-first by createdAt, before anything is written", () => {
    const seek = seekOf({ lastSeenAt: window, createdUpTo: null, cursor: null, pageSize: 3 });
    expect(() => seek.accept(seek.nextRequest(), [row("a", 100), row("b", 200)])).toThrow(/newest-first by createdAt/);
  });

  it("refuses rows outside the lastSeenAt window: the API ignored the filter", () => {
    const seek = seekOf({ lastSeenAt: window, createdUpTo: null, cursor: null, pageSize: 3 });
    const outside = row("x", 100, T + 60_000);
    expect(() => seek.accept(seek.nextRequest(), [outside])).toThrow(ContractError);
    expect(() => seek.accept(seek.nextRequest(), [outside])).toThrow(/ignored the lastSeenAt filter/);
  });

  it("accepts rows exactly on the window's bounds and 1 ms around them", () => {
    const seek = seekOf({ lastSeenAt: window, createdUpTo: null, cursor: null, pageSize: 5 });
    const rows = [row("a", 500, T - 1), row("b", 400, T), row("c", 300, T + 10_000), row("d", 200, T + 10_001)];
    expect(seek.accept(seek.nextRequest(), rows).fresh).toHaveLength(4);
  });

  it("refuses rows above the createdAt bound: the API ignored the seek filter", () => {
    const seek = seekOf({ lastSeenAt: null, createdUpTo: null, cursor: new Date(1000), pageSize: 3 });
    expect(() => seek.accept(seek.nextRequest(), [row("a", 5000)])).toThrow(/ignored the createdAt filter/);
  });

  it("refuses a page where no createdAt parses, and tolerates a few that do not", () => {
    const seek = seekOf({ lastSeenAt: null, createdUpTo: null, cursor: null, pageSize: 3 });
    expect(() => seek.accept(seek.nextRequest(), [{ _id: "a", createdAt: "yesterday" }])).toThrow(/createdAt that parses/);
    const ok = seekOf({ lastSeenAt: null, createdUpTo: null, cursor: null, pageSize: 3 });
    const res = ok.accept(ok.nextRequest(), [row("a", 300), { _id: "b", createdAt: "garbage" }, row("c", 100)]);
    expect(res.undated).toBe(1);
    expect(res.fresh).toHaveLength(3);
  });

  it("requires a lastSeenAt on every row of a lastSeenAt window", () => {
    const seek = seekOf({ lastSeenAt: window, createdUpTo: null, cursor: null, pageSize: 3 });
    expect(() => seek.accept(seek.nextRequest(), [{ _id: "a", createdAt: new Date(100).toISOString(), lastSeenAt: null }])).toThrow(/lastSeenAt null/);
  });
});

describe("dedupe", () => {
  it("keeps the last copy of a repeated id, in page order", () => {
    const { unique, duplicates } = dedupe([{ _id: "a", v: 1 }, { _id: "b" }, { _id: "a", v: 2 }] as RawContact[]);
    expect(duplicates).toBe(1);
    expect(unique).toEqual([{ _id: "b" }, { _id: "a", v: 2 }]);
  });
});

describe("SeekWindow memory", () => {
  it("remembers about a page of ids however long the read", () => {
    const seek = seekOf({ lastSeenAt: null, createdUpTo: null, cursor: null, pageSize: 50 });
    let t = 10_000_000;
    let id = 0;
    let most = 0;
    for (let page = 0; page < 200; page += 1) {
      const req = seek.nextRequest();
      const top = req.query.createdAt?.to ? req.query.createdAt.to.getTime() - 1 : t;
      // A full page from the top of the query: the boundary row again, then 49 older ones.
      const rows: RawContact[] = [];
      if (page > 0) rows.push({ _id: `c${id - 1}`, createdAt: new Date(top).toISOString() });
      while (rows.length < 50) rows.push({ _id: `c${id++}`, createdAt: new Date((t -= 10)).toISOString() });
      seek.accept(req, rows);
      most = Math.max(most, seek.remembered);
    }
    expect(id).toBeGreaterThan(9_000);
    expect(most).toBeLessThanOrEqual(100);
  });
});
