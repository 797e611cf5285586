// The page sink: writes one page of a read in one transaction: the contacts, the pass's per-page extras
// (reconcile records the ids it saw), the checkpoint that covers the page (when the lane scheduler allows
// one), and the run's figures. So the checkpoint can never run ahead of the data, a page is never half
// written, and the figures count only committed pages.
//
// All of it is plain SQL on one client of the pg pool Prisma's adapter runs on: the page is the bulk of what
// the mirror writes, and an ORM in the middle cost more CPU than everything else together (docs/benchmarks.md).
import type { Database } from "../db/client.js";
import { mapPage } from "../records/mapContact.js";
import { upsertPage } from "../db/sql/upsertContacts.js";
import { addRunCounters, ZERO_COUNTERS, type RunCounters } from "../db/sql/runs.js";
import { inTransaction, type PoolClient } from "../db/sql/transaction.js";
import type { LanePage } from "./lanes.js";

export interface PassExtras {
  /** Extra writes in the page's transaction (reconcile records the ids it saw). */
  perPage?: (client: PoolClient, ids: string[]) => Promise<void>;
  /** Stores the resume point (a key of the read's order; null: the top); called only when the scheduler allows. */
  checkpoint?: (client: PoolClient, cursor: number | null, pageSize: number) => Promise<void>;
}

export interface PageSink {
  /** Commits the page; resolves to the figures it added to the run. */
  write(page: LanePage): Promise<RunCounters>;
}

export function pageSink(db: Database, account: string, runId: bigint, extras: PassExtras): PageSink {
  return {
    async write(page) {
      // Mapped before the transaction opens: no connection is held while the CPU maps the page.
      const rows = mapPage(page.fresh);
      return inTransaction(db.pool, async (client) => {
        const counts = await upsertPage(client, account, rows, runId);
        await extras.perPage?.(client, rows.ids);
        if (page.checkpoint !== undefined) await extras.checkpoint?.(client, page.checkpoint, page.pageSize);
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
        await addRunCounters(client, runId, delta);
        return delta;
      });
    },
  };
}
