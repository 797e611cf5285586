// The checkpoint of each (account, kind of pass): the range known complete, and the window under way with
// its seek cursor. Written only inside the transaction that writes the page it describes.
import { Prisma, type PrismaClient } from "../../generated/prisma/client.js";

export type PassKind = "incremental" | "reconcile";

export interface Checkpoint {
  account: string;
  kind: PassKind;
  syncedUntil: Date | null;
  windowStart: Date | null;
  windowEnd: Date | null;
  cursor: Date | null;
  /** The order the cursor is a position on ("createdAt desc"...); null: written before the order was measured. */
  cursorOrder: string | null;
  runId: bigint | null;
  pageSize: number | null;
  lastCompletedAt: Date | null;
  /**
   * Lanes below the cursor, as far as each had committed: the rows after `top` down to `cursor` (positions on
   * `cursorOrder`) were read and committed, so a resumed seek jumps over them. Cleared with the cursor.
   */
  laneProgress: LaneProgress[];
}

export interface LaneProgress {
  top: Date;
  cursor: Date;
}

type Db = PrismaClient | Prisma.TransactionClient;

export async function readCheckpoint(db: Db, account: string, kind: PassKind): Promise<Checkpoint> {
  const row = await db.syncCheckpoint.findUnique({ where: { account_kind: { account, kind } } });
  return {
    account,
    kind,
    syncedUntil: row?.syncedUntil ?? null,
    windowStart: row?.windowStart ?? null,
    windowEnd: row?.windowEnd ?? null,
    cursor: row?.cursor ?? null,
    cursorOrder: row?.cursorOrder ?? null,
    runId: row?.runId ?? null,
    pageSize: row?.pageSize ?? null,
    lastCompletedAt: row?.lastCompletedAt ?? null,
    laneProgress: parseLaneProgress(row?.laneProgress ?? null),
  };
}

/** The stored lane progress; anything that is not a map of instant to instant counts as none (it only saves reads). */
export function parseLaneProgress(value: unknown): LaneProgress[] {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return [];
  const lanes: LaneProgress[] = [];
  for (const [top, cursor] of Object.entries(value as Record<string, unknown>)) {
    if (typeof cursor !== "string") return [];
    const t = new Date(top);
    const c = new Date(cursor);
    if (Number.isNaN(t.getTime()) || Number.isNaN(c.getTime())) return [];
    lanes.push({ top: t, cursor: c });
  }
  return lanes;
}

export async function writeCheckpoint(
  db: Db,
  account: string,
  kind: PassKind,
  patch: Partial<Omit<Checkpoint, "account" | "kind" | "laneProgress">>,
): Promise<void> {
  // A cursor set from outside a page (a window starts, ends or restarts) ends what the lanes below it recorded.
  const data = { ...patch, ...("cursor" in patch ? { laneProgress: Prisma.DbNull } : {}), updatedAt: new Date() };
  await db.syncCheckpoint.upsert({
    where: { account_kind: { account, kind } },
    create: { account, kind, ...data },
    update: data,
  });
}

// The per-page part of the checkpoint (the seek cursor, its order, the page size, the lanes' progress) is
// written by the page's own statement (src/db/sql/upsertContacts.ts writePage): it commits with the page it covers.
