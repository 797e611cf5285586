// Deletion by absence: after a complete reconcile pass, contacts the pass did not return are marked
// deleted (never removed), as Fivetran does with _fivetran_deleted. Marking one is a write like any other:
// synced_at and sync_run_id move, so incremental readers see deletions.
import type { Prisma } from "../../generated/prisma/client.js";
import type { Queryable } from "./upsertContacts.js";

/** Records ids the pass saw: plain SQL, in the page's transaction (src/sync/sink.ts) or one of its own. */
export async function recordSeen(client: Queryable, passId: bigint, account: string, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await client.query(
    `INSERT INTO reconcile_seen (run_id, account, id)
     SELECT $1, $2, unnest($3::text[])
     ON CONFLICT DO NOTHING`,
    [String(passId), account, ids],
  );
}

/** How many live contacts created up to `createdUpTo` the pass did not see. */
export async function countUnseen(tx: Prisma.TransactionClient, passId: bigint, account: string, createdUpTo: Date): Promise<{ unseen: number; live: number }> {
  const rows = await tx.$queryRaw<{ unseen: number; live: number }[]>`
    SELECT
      count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM reconcile_seen s WHERE s.run_id = ${passId} AND s.id = c.id))::int AS unseen,
      count(*)::int AS live
    FROM contacts c
    WHERE c.account = ${account} AND c.deleted_at IS NULL AND (c.created_at IS NULL OR c.created_at <= ${createdUpTo})`;
  return rows[0] ?? { unseen: 0, live: 0 };
}

export async function markUnseenDeleted(tx: Prisma.TransactionClient, passId: bigint, account: string, createdUpTo: Date): Promise<number> {
  return tx.$executeRaw`
    UPDATE contacts c SET deleted_at = now(), synced_at = now(), sync_run_id = ${passId}
    WHERE c.account = ${account} AND c.deleted_at IS NULL
      AND (c.created_at IS NULL OR c.created_at <= ${createdUpTo})
      AND NOT EXISTS (SELECT 1 FROM reconcile_seen s WHERE s.run_id = ${passId} AND s.id = c.id)`;
}

export async function forgetSeen(tx: Prisma.TransactionClient, account: string): Promise<void> {
  await tx.$executeRaw`DELETE FROM reconcile_seen WHERE account = ${account}`;
}

/** The live contacts a pass did not see, with their createdAt (for verifying them one by one), at most `limit`. */
export async function listUnseen(
  tx: Prisma.TransactionClient,
  passId: bigint,
  account: string,
  createdUpTo: Date,
  limit: number,
): Promise<{ id: string; createdAt: Date | null }[]> {
  const rows = await tx.$queryRaw<{ id: string; created_at: Date | null }[]>`
    SELECT c.id, c.created_at FROM contacts c
    WHERE c.account = ${account} AND c.deleted_at IS NULL
      AND (c.created_at IS NULL OR c.created_at <= ${createdUpTo})
      AND NOT EXISTS (SELECT 1 FROM reconcile_seen s WHERE s.run_id = ${passId} AND s.id = c.id)
    ORDER BY c.created_at DESC NULLS LAST, c.id
    LIMIT ${limit}`;
  return rows.map((r) => ({ id: r.id, createdAt: r.created_at }));
}
