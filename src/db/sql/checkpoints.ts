// The checkpoint of each (account, kind of pass): the range known complete, and the window under way with
// its seek cursor. Written only inside the transaction that writes the page it describes.
import type { Prisma, PrismaClient } from "../../generated/prisma/client.js";

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
  };
}

export async function writeCheckpoint(
  db: Db,
  account: string,
  kind: PassKind,
  patch: Partial<Omit<Checkpoint, "account" | "kind">>,
): Promise<void> {
  const data = { ...patch, updatedAt: new Date() };
  await db.syncCheckpoint.upsert({
    where: { account_kind: { account, kind } },
    create: { account, kind, ...data },
    update: data,
  });
}

// The per-page part of the checkpoint (the seek cursor, its order, the page size) is written by the page's
// own statement (src/db/sql/upsertContacts.ts writePage): the cursor commits with the page it covers.
