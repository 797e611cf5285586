// One set-based upsert per page: the page travels as one jsonb parameter and is unpacked by
// jsonb_to_recordset, so a page of any size is one statement. A contact whose `raw` did not change (and
// that is not marked deleted) is left alone: no new row version, no write.
import type { Prisma } from "../../generated/prisma/client.js";
import { CONTACT_COLUMNS, type ContactRow } from "../../records/mapContact.js";

export interface UpsertCounts {
  inserted: number;
  updated: number;
  unchanged: number;
  /** Contacts that were marked deleted and came back. */
  restored: number;
}

const columns = CONTACT_COLUMNS.map((c) => `"${c.column}"`);
const recordType = ["id text", ...CONTACT_COLUMNS.map((c) => `"${c.column}" ${c.pgType}`)].join(", ");

const UPSERT_SQL = `
WITH input AS (
  SELECT * FROM jsonb_to_recordset($2::jsonb) AS x(${recordType})
),
-- The run that writes: the caller's, else the one run of this account under way (the account lock lets one
-- pass at a time write an account, and startRun closes runs left open by a killed process).
run AS (
  SELECT coalesce($3::bigint, (SELECT max(r.id) FROM sync_runs r WHERE r.account = $1 AND r.status = 'running' AND r.kind <> 'remap')) AS id
),
was_deleted AS (
  SELECT c.id FROM contacts c JOIN input i ON c.account = $1 AND c.id = i.id WHERE c.deleted_at IS NOT NULL
),
written AS (
  INSERT INTO contacts (account, id, ${columns.join(", ")}, synced_at, sync_run_id, deleted_at)
  SELECT $1, id, ${columns.join(", ")}, now(), (SELECT id FROM run), NULL FROM input
  ON CONFLICT (account, id) DO UPDATE SET
    ${columns.map((c) => `${c} = EXCLUDED.${c}`).join(",\n    ")},
    synced_at = EXCLUDED.synced_at,
    sync_run_id = EXCLUDED.sync_run_id,
    deleted_at = NULL
  WHERE contacts.raw IS DISTINCT FROM EXCLUDED.raw OR contacts.deleted_at IS NOT NULL
  RETURNING (xmax = 0) AS inserted
)
SELECT
  (SELECT count(*) FROM written WHERE inserted)::int AS inserted,
  (SELECT count(*) FROM written WHERE NOT inserted)::int AS updated,
  (SELECT count(*) FROM was_deleted)::int AS restored`;

/**
 * Rows must have distinct ids (PostgreSQL refuses to update one row twice in a statement). `runId` is the
 * sync_runs row of the pass, written to `sync_run_id`; callers should pass it (see the `run` step above).
 */
export async function upsertContacts(tx: Prisma.TransactionClient, account: string, rows: ContactRow[], runId: bigint | null = null): Promise<UpsertCounts> {
  if (rows.length === 0) return { inserted: 0, updated: 0, unchanged: 0, restored: 0 };
  const result = await tx.$queryRawUnsafe<{ inserted: number; updated: number; restored: number }[]>(
    UPSERT_SQL,
    account,
    JSON.stringify(rows),
    runId,
  );
  const { inserted = 0, updated = 0, restored = 0 } = result[0] ?? {};
  return { inserted, updated, unchanged: rows.length - inserted - updated, restored };
}
