// A small seeded random number generator (mulberry32): the double must produce the same data, the same
// mutations and the same faults for the same seed, run after run, so tests and benchmarks are repeatable.

export class Rng {
  private state: number;

  constructor(seed: number) {
    // Spread small seeds (1, 2, 3...) over the state space so neighbouring seeds give unrelated streams.
    this.state = (Math.imul((seed | 0) ^ 0x9e3779b9, 0x85ebca6b) ^ 0xc2b2ae35) >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Integer in [min, max]. */
  between(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** Picks by weight: `weighted([["OPEN", 55], ["CLOSED", 35]])`. */
  weighted<T>(table: WeightTable<T>): T {
    let r = this.next() * table.total;
    for (const [value, weight] of table.entries) {
      r -= weight;
      if (r < 0) return value;
    }
    return table.entries[table.entries.length - 1]![0];
  }
}

export interface WeightTable<T> {
  entries: ReadonlyArray<readonly [T, number]>;
  total: number;
}

export function weights<T>(entries: ReadonlyArray<readonly [T, number]>): WeightTable<T> {
  return { entries, total: entries.reduce((sum, [, w]) => sum + w, 0) };
}
