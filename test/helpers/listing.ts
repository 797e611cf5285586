// A pure, in-memory model of `POST /inbox/users` for the engine's unit tests (no HTTP, no database): the
// same realities the bundled double plays (src/double/behaviour.ts), reduced to one function, so that reads
// can be run to the end thousands of times in a second. The double itself is what the end-to-end tests use.
import type { InboxQuery } from "../../src/api/requestBody.js";
import type { RawContact } from "../../src/api/response.js";
import type { ApiOrder } from "../../src/probe/profile.js";
import { Rng } from "../../src/double/rng.js";

export interface ModelRow extends RawContact {
  createdAt: string;
  lastSeenAt: string | null;
  isContact: boolean;
}

export interface ModelBehaviour {
  order: ApiOrder;
  /** Tied rows (same value of the order field) shuffled on every request. */
  unstableTies?: Rng;
  /** isContact applied after paginating: short pages mid-list. */
  postFilter?: boolean;
  bothBoundsRequired?: boolean;
  /** Bounds floored to this precision before comparing. */
  precisionMs?: number;
  exclusive?: boolean;
}

const T0 = Date.parse("2025-03-01T00:00:00.000Z");

/** Rows with createdAt ties (15 % share the previous millisecond, and one bulk import of `bulk`), some never seen, 2 % non-contacts. */
export function modelRows(n: number, rng: Rng, bulk = 0): ModelRow[] {
  const rows: ModelRow[] = [];
  let t = T0;
  for (let i = 0; i < n; i += 1) {
    const inBulk = i >= n / 2 && i < n / 2 + bulk;
    if (!inBulk && !rng.chance(0.15)) t += 1 + rng.int(1500);
    const seen = rng.chance(0.95);
    rows.push({
      _id: `id${String(i).padStart(6, "0")}`,
      createdAt: new Date(t).toISOString(),
      lastSeenAt: seen ? new Date(t + rng.int(3_000_000)).toISOString() : null,
      isContact: !rng.chance(0.02),
    });
  }
  return rows;
}

function bound(value: Date | null, precision: number): number | null {
  return value === null ? null : Math.floor(value.getTime() / precision) * precision;
}

export function listing(rows: ModelRow[], b: ModelBehaviour, query: InboxQuery, page: number, pageSize: number): ModelRow[] {
  const precision = b.precisionMs ?? 1;
  const matches = (row: ModelRow, field: "createdAt" | "lastSeenAt") => {
    const r = query[field];
    if (!r) return true;
    if (b.bothBoundsRequired && (r.from === null || r.to === null)) return true;
    const value = row[field];
    if (value === null) return false;
    const t = Date.parse(value);
    const from = bound(r.from, precision);
    const to = bound(r.to, precision);
    if (b.exclusive) return (from === null || t > from) && (to === null || t < to);
    return (from === null || t >= from) && (to === null || t <= to);
  };
  const { field, direction } = b.order;
  const sign = direction === "desc" ? -1 : 1;
  const valueOf = (row: ModelRow) => (row[field] === null ? Number.NEGATIVE_INFINITY : Date.parse(row[field]!));
  const tieKey = new Map<string, number>();
  if (b.unstableTies) for (const row of rows) tieKey.set(row._id, b.unstableTies.next());
  const sorted = rows
    .filter((row) => (b.postFilter || row.isContact) && matches(row, "createdAt") && matches(row, "lastSeenAt"))
    .sort((x, y) => {
      const dx = valueOf(x);
      const dy = valueOf(y);
      // Rows without the field (never seen) list last newest-first and first oldest-first, as MongoDB sorts null.
      if (dx !== dy) return dx === Number.NEGATIVE_INFINITY ? -sign : dy === Number.NEGATIVE_INFINITY ? sign : sign * (dx - dy);
      if (b.unstableTies) return tieKey.get(x._id)! - tieKey.get(y._id)!;
      return x._id < y._id ? sign : -sign;
    });
  const pageRows = sorted.slice((page - 1) * pageSize, page * pageSize);
  return b.postFilter ? pageRows.filter((row) => row.isContact) : pageRows;
}
