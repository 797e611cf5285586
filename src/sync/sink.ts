// The page sink: writes one page of a read in one statement (src/db/sql/upsertContacts.ts writePage): the
// contacts, the pass's per-page extras (reconcile records the ids it saw), the checkpoint that covers the
// page (when the lane scheduler allows one, else the lane's own progress), and the run's figures. One statement is one transaction: the
// checkpoint can never run ahead of the data, a page is never half written, and the figures count only
// committed pages.
//
// All of it is plain SQL on the pg pool Prisma's adapter runs on: the page is the bulk of what the mirror
// writes, and an ORM in the middle cost more CPU than everything else together (docs/benchmarks.md).
import type { Database } from "../db/client.js";
import { mapPage } from "../records/mapContact.js";
import { writePage } from "../db/sql/upsertContacts.js";
import { ZERO_COUNTERS, type RunCounters } from "../db/sql/runs.js";
import type { PassKind } from "../db/sql/checkpoints.js";
import type { LanePage } from "./lanes.js";

export interface PassExtras {
  /** Reconcile: record the page's ids as seen by this pass (its run id), with the page. */
  seenBy?: bigint;
  /** Where the resume point is stored, and the cursor a key of the read's order stands for (null: the top). */
  checkpoint?: { kind: PassKind; order: string; cursorOf: (key: number | null) => Date | null };
}

export interface PageSink {
  /** Commits the page; resolves to the figures it added to the run. */
  write(page: LanePage): Promise<RunCounters>;
}

export function pageSink(db: Database, account: string, runId: bigint, extras: PassExtras): PageSink {
  return {
    async write(page) {
      // raw straight from the answer's bytes when it has them (no NUL escape in it): no contact is serialised again.
      const rows = mapPage(page.fresh, page.answer.json ? { json: page.answer.json, rows: page.answer.rows } : undefined);
      const cp = extras.checkpoint;
      const counts = await writePage(db.pool, account, rows, runId, {
        ...(extras.seenBy !== undefined ? { seenBy: extras.seenBy } : {}),
        ...(cp && page.checkpoint !== undefined ? { cursor: { kind: cp.kind, cursor: cp.cursorOf(page.checkpoint), order: cp.order, pageSize: page.pageSize } } : {}),
        ...(cp && page.checkpoint === undefined && page.progress ? { lane: { kind: cp.kind, top: cp.cursorOf(page.progress.top)!, cursor: cp.cursorOf(page.progress.cursor)!, order: cp.order } } : {}),
        figures: { received: page.received, requests: page.answer.attempts, retries: page.answer.retries },
      });
      return {
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
    },
  };
}
