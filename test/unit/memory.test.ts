import { describe, expect, it } from "vitest";
import { BUFFER_GROWTH_BYTES, bufferReleaser } from "../../src/memory.js";

describe("releasing buffers between pages", () => {
  it("collects once array buffers have grown by the threshold since the last collection, and measures from what is left", () => {
    let buffers = 0;
    let collections = 0;
    const release = bufferReleaser(() => {
      collections += 1;
      buffers = 5; // what survives
    }, () => buffers, 100);
    for (const [level, expected] of [[50, 0], [99, 0], [100, 1], [5, 1], [104, 1], [105, 2], [60, 2]] as const) {
      buffers = level;
      release();
      expect(collections, `at ${level}`).toBe(expected);
    }
    // V8 collected on its own (buffers fell below the last level): growth counts from there.
    buffers = 1;
    release();
    buffers = 100;
    release();
    expect(collections).toBe(2);
    buffers = 101;
    release();
    expect(collections).toBe(3);
  });

  it("does nothing where node has no gc (started without --expose-gc)", () => {
    let asked = 0;
    const release = bufferReleaser(undefined, () => (asked += 1) * BUFFER_GROWTH_BYTES * 10);
    release();
    release();
    expect(asked).toBe(0);
  });
});
