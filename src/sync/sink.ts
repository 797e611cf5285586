// The page sink: writes one page of a read in one transaction: the contacts, the pass's per-page extras
// (reconcile records the ids it saw), the checkpoint that covers the page (when the lane scheduler allows
// one), and the run's figures. So the checkpoint can never run ahead of the data, a page is never half
// written, and the figures count only committed pages.
import type { Database } from "../db/client.js";
import type { Prisma } from "../generated/prisma/client.js";
import { mapContact } from "../records/mapContact.js";
import { upsertContacts } from "../db/sql/upsertContacts.js";
import { addRunCounters, ZERO_COUNTERS, type RunCounters } from "../db/sql/runs.js";
import type { LanePage } from "./lanes.js";

export interface PassExtras {
  /** Extra writes in the page's transaction (reconcile records the ids it saw). */
  perPage?: (tx: Prisma.TransactionClient, ids: string[]) => Promise<void>;
  /** Stores the resume point (a key of the read's order; null: the top); called only when the scheduler allows. */
  checkpoint?: (tx: Prisma.TransactionClient, cursor: number | null, pageSize: number) => Promise<void>;
}

export interface PageSink {
  /** Commits the page; resolves to the figures it added to the run. */
  write(page: LanePage): Promise<RunCounters>;
}

export function pageSink(db: Database, account: string, runId: bigint, extras: PassExtras): PageSink {
  return {
    async write(page) {
      // Rows in id order: concurrent lanes that share a boundary row lock rows in the same order (no deadlock).
      const rows = page.fresh.map(mapContact).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      return db.prisma.$transaction(async (tx) => {
        const counts = await upsertContacts(tx, account, rows, runId);
        await extras.perPage?.(tx, rows.map((r) => r.id));
        if (page.checkpoint !== undefined) await extras.checkpoint?.(tx, page.checkpoint, page.pageSize);
        const delta: RunCounters = {
          ...ZERO_COUNTERS,
          pages: 1,
          received: page.received,
          inserted: counts.inserted,
          updated: counts.updated,
          unchanged: counts.unchanged,
          restored: counts.restored,
          requests: page.answer.attempts,
          retries: page.answer.retries,
        };
        await addRunCounters(tx, runId, delta);
        return delta;
      }, { timeout: 60_000 });
    },
  };
}
