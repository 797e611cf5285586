// Retention of the contact history (HISTORY_RETENTION): previous versions that ended before the cut-off are
// deleted (contact_versions; no instant from the cut-off on needs them), and contact_history_state.
// complete_since moves up to the cut-off, so contact_changes no longer shows changes seen before it and
// contacts_as_of() refuses instants it can no longer answer instead of answering them wrongly. Runs after each complete reconcile pass (nightly with
// the worker): a plain DELETE by the valid_to index, row locks only, readers are not blocked.
import type { Prisma, PrismaClient } from "../../generated/prisma/client.js";
import type { Logger } from "../../log.js";

export interface PruneResult {
  /** Previous versions deleted (each was one change of contact_changes; changes before the cut-off that
   *  made a current version are hidden by complete_since, not deleted: the version is the contact itself). */
  deleted: number;
  completeSince: Date;
}

/** Deletes changes older than `retentionMs` (measured from the database's clock). */
export async function pruneHistory(prisma: PrismaClient, retentionMs: number): Promise<PruneResult> {
  if (!Number.isSafeInteger(retentionMs) || retentionMs <= 0) {
    throw new RangeError(`pruneHistory: the retention must be a positive number of milliseconds, got ${retentionMs}`);
  }
  return prisma.$transaction(async (tx: Prisma.TransactionClient) => {
    const deleted = await tx.$executeRaw`
      DELETE FROM contact_versions WHERE valid_to < now() - make_interval(secs => ${retentionMs / 1000})`;
    const [state] = await tx.$queryRaw<{ complete_since: Date }[]>`
      UPDATE contact_history_state
      SET complete_since = greatest(complete_since, now() - make_interval(secs => ${retentionMs / 1000}))
      RETURNING complete_since`;
    return { deleted, completeSince: state!.complete_since };
  });
}

/**
 * After a reconcile pass. `retentionMs` 0 or undefined keeps the history forever. A failure is logged and
 * does not fail the pass it follows: the pass is committed, and the next one prunes what is left.
 */
export async function pruneHistoryAfterPass(prisma: PrismaClient, retentionMs: number | undefined, logger: Logger): Promise<void> {
  if (!retentionMs) return;
  try {
    const { deleted, completeSince } = await pruneHistory(prisma, retentionMs);
    if (deleted > 0) logger.info({ deleted, completeSince }, "pruned contact history older than HISTORY_RETENTION");
  } catch (error) {
    logger.warn(
      { error: (error as Error).message },
      "pruning contact history failed; the reconcile pass itself is committed, and the next pass prunes again",
    );
  }
}
