// Every read a pass makes, against every reality of the API the sync adapts to, without PostgreSQL or HTTP:
// the streams of src/sync/reads.ts driven by the lane scheduler over the pure model in test/helpers/listing.ts.
// A read with the strategy for the API's reality returns every contact of its range; the documented guess
// against the same reality does not (the tests have teeth).
import { describe, expect, it } from "vitest";
import { runLanes } from "../../src/sync/lanes.js";
import { createdAtRead, lastSeenAtRead, type ReadSpec } from "../../src/sync/reads.js";
import { guessedStrategy } from "../../src/sync/strategy.js";
import type { Strategy } from "../../src/probe/profile.js";
import { Rng } from "../../src/double/rng.js";
import { listing, modelRows, type ModelBehaviour, type ModelRow } from "../helpers/listing.js";

const PAGE = 10;

function strategyFor(b: ModelBehaviour): Strategy {
  return guessedStrategy({
    order: b.order,
    quantumMs: b.precisionMs ?? 1,
    bothBounds: b.bothBoundsRequired ?? false,
    endOnEmptyPage: b.postFilter ?? false,
    unstableTies: b.unstableTies !== undefined,
  });
}

/** Runs a read to its end; the ids it wrote, or the error it stopped with. */
async function readAll(rows: ModelRow[], behaviour: ModelBehaviour, spec: ReadSpec): Promise<{ ids: Set<string>; error?: Error; requests: number }> {
  const ids = new Set<string>();
  let requests = 0;
  try {
    await runLanes(spec.stream, {
      maxLanes: 3,
      lanePages: 3,
      fetch: async (request) => {
        requests += 1;
        if (requests > 20_000) throw new Error("runaway read");
        return { rows: listing(rows, behaviour, request.query, request.page, PAGE), sentAt: 0, receivedAt: 0, throttled: 0, retries: 0, attempts: 1 };
      },
      commit: async (page) => {
        for (const r of page.fresh) ids.add(r._id);
      },
    });
    return { ids, requests };
  } catch (error) {
    return { ids, error: error as Error, requests };
  }
}

const T0 = Date.parse("2025-03-01T00:00:00.000Z");

function windowOf(rows: ModelRow[]): { from: number; to: number } {
  const seen = rows.filter((r) => r.lastSeenAt !== null).map((r) => Date.parse(r.lastSeenAt!)).sort((a, b) => a - b);
  return { from: seen[Math.floor(seen.length * 0.2)]!, to: seen[Math.floor(seen.length * 0.9)]! };
}

function expectedIncremental(rows: ModelRow[], w: { from: number; to: number }): string[] {
  return rows.filter((r) => r.isContact && r.lastSeenAt !== null && Date.parse(r.lastSeenAt) >= w.from && Date.parse(r.lastSeenAt) <= w.to).map((r) => r._id);
}

function expectedReconcile(rows: ModelRow[], upTo: number): string[] {
  return rows.filter((r) => r.isContact && Date.parse(r.createdAt) <= upTo).map((r) => r._id);
}

const REALITIES: [string, () => ModelBehaviour][] = [
  ["the documented guess (createdAt newest-first)", () => ({ order: { field: "createdAt", direction: "desc" } })],
  ["createdAt oldest-first", () => ({ order: { field: "createdAt", direction: "asc" } })],
  ["lastSeenAt newest-first", () => ({ order: { field: "lastSeenAt", direction: "desc" } })],
  ["lastSeenAt oldest-first", () => ({ order: { field: "lastSeenAt", direction: "asc" } })],
  ["tied rows in another order per request", () => ({ order: { field: "createdAt", direction: "desc" }, unstableTies: new Rng(9) })],
  ["isContact filtered after paginating (short pages mid-list)", () => ({ order: { field: "createdAt", direction: "desc" }, postFilter: true })],
  ["a date filter only with both bounds", () => ({ order: { field: "createdAt", direction: "desc" }, bothBoundsRequired: true })],
  ["bounds compared at whole seconds", () => ({ order: { field: "createdAt", direction: "desc" }, precisionMs: 1000 })],
  ["bounds compared at whole days, exclusive", () => ({ order: { field: "createdAt", direction: "desc" }, precisionMs: 86_400_000, exclusive: true })],
  ["exclusive bounds", () => ({ order: { field: "createdAt", direction: "desc" }, exclusive: true })],
  ["lastSeenAt newest-first + unstable ties + both bounds + seconds", () => ({
    order: { field: "lastSeenAt", direction: "desc" }, unstableTies: new Rng(3), bothBoundsRequired: true, precisionMs: 1000,
  })],
  ["createdAt oldest-first + exclusive + both bounds", () => ({ order: { field: "createdAt", direction: "asc" }, exclusive: true, bothBoundsRequired: true })],
  ["short pages mid-list + both bounds + seconds", () => ({ order: { field: "createdAt", direction: "desc" }, postFilter: true, bothBoundsRequired: true, precisionMs: 1000 })],
];

describe("reads adapted to the API's reality (pure model, lanes included)", () => {
  for (const [name, make] of REALITIES) {
    it(`${name}: an incremental window and a full pass return every contact`, async () => {
      for (const seed of [1, 2, 3]) {
        const rows = modelRows(600, new Rng(seed), 35);
        const behaviour = make();
        const strategy = strategyFor(behaviour);
        const w = windowOf(rows);
        const incremental = await readAll(rows, behaviour, lastSeenAtRead(strategy, w, null, PAGE));
        expect(incremental.error?.message).toBeUndefined();
        expect(expectedIncremental(rows, w).filter((id) => !incremental.ids.has(id)), `${name}, seed ${seed}: window`).toEqual([]);
        const upTo = Date.parse(rows[Math.floor(rows.length * 0.8)]!.createdAt);
        const full = await readAll(rows, behaviour, createdAtRead(strategy, upTo, null, PAGE));
        expect(full.error?.message).toBeUndefined();
        expect(expectedReconcile(rows, upTo).filter((id) => !full.ids.has(id)), `${name}, seed ${seed}: full pass`).toEqual([]);
      }
    });
  }

  // The guess read against each reality it does not fit: it must stop loudly or miss contacts (never both
  // succeed and be complete, or the realities above prove nothing).
  for (const [name, make] of REALITIES.slice(1)) {
    it(`the documented guess against "${name}" stops or misses contacts (what the adaptation fixes)`, async () => {
      let caught = false;
      for (const seed of [1, 2, 3]) {
        const rows = modelRows(600, new Rng(seed), 35);
        const behaviour = make();
        const w = windowOf(rows);
        const upTo = Date.parse(rows[Math.floor(rows.length * 0.8)]!.createdAt);
        const a = await readAll(rows, behaviour, lastSeenAtRead(guessedStrategy(), w, null, PAGE));
        const b = await readAll(rows, make(), createdAtRead(guessedStrategy(), upTo, null, PAGE));
        const missed = expectedIncremental(rows, w).some((id) => !a.ids.has(id)) || expectedReconcile(rows, upTo).some((id) => !b.ids.has(id));
        if (a.error || b.error || missed) caught = true;
      }
      // Exclusive bounds alone are what the ±1 ms widening was made for: the guess copes.
      expect(caught).toBe(name !== "exclusive bounds");
    });
  }

  it("costs nothing extra on the documented guess: requests near contacts / (page size - 1)", async () => {
    const rows = modelRows(2000, new Rng(4));
    const behaviour: ModelBehaviour = { order: { field: "createdAt", direction: "desc" } };
    const upTo = Date.parse(rows[rows.length - 1]!.createdAt);
    const full = await readAll(rows, behaviour, createdAtRead(strategyFor(behaviour), upTo, null, PAGE));
    const contacts = expectedReconcile(rows, upTo).length;
    // One request per page of new rows, plus one per lane end and the tie groups' re-reads.
    expect(full.requests).toBeLessThan((contacts / (PAGE - 1)) * 1.15 + 10);
  });
});
