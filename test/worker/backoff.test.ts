import { describe, expect, it } from "vitest";
import { Backoff, ticksToSkip } from "../../src/worker/backoff.js";

describe("back-off after repeated failures", () => {
  it("retries at the next tick after one failure, then skips 1, 3, 7... ticks", () => {
    expect([0, 1, 2, 3, 4, 5].map(ticksToSkip)).toEqual([0, 0, 1, 3, 7, 15]);
    expect(ticksToSkip(200)).toBe(2 ** 20 - 1); // bounded; the time cap decides long before
  });

  it("skips the planned ticks, then tries again", () => {
    const b = new Backoff(3_600_000);
    const pattern = (ticks: number, now: number) => Array.from({ length: ticks }, () => (b.shouldRun(now) ? "run" : "skip"));
    expect(pattern(2, 0)).toEqual(["run", "run"]);
    b.recordFailure(0);
    expect(pattern(1, 1)).toEqual(["run"]);
    b.recordFailure(1);
    expect(pattern(2, 2)).toEqual(["skip", "run"]);
    b.recordFailure(2);
    expect(b.remaining).toBe(3);
    expect(pattern(4, 3)).toEqual(["skip", "skip", "skip", "run"]);
    b.recordSuccess();
    expect(pattern(2, 4)).toEqual(["run", "run"]);
  });

  it("never waits longer than the cap after the last failure", () => {
    const b = new Backoff(60_000);
    for (let i = 0; i < 10; i += 1) b.recordFailure(1000);
    expect(b.shouldRun(30_000)).toBe(false);
    expect(b.shouldRun(61_000)).toBe(true);
  });
});
