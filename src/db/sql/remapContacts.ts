// Re-derivation of the typed columns from `raw` when the product's mapping is newer than the one that wrote
// a row (MAPPING_VERSION, stored per row in mapping_version). The rules are mapContact() itself, so no SQL
// copy of them is needed.
//
// - In batches, each its own short transaction: memory is one batch, and a kill loses at most the batch
//   under way; the next run carries on, because done rows no longer match `mapping_version < current`.
// - Never blocks a sync: rows are taken FOR UPDATE SKIP LOCKED (a row a page is writing is left for later,
//   and that page writes it with the current mapping anyway), and a sync waits at most for one batch.
// - Bounded in time when asked (`budgetMs`): the worker does a slice after each pass.
// - One re-deriver per account at a time (a session advisory lock), so its run row is the account's only
//   open 'remap' run; several accounts in one database are re-derived each with their own settings.
// - synced_at and sync_run_id move only for rows whose typed columns changed (dbt sees real changes only).
import { setTimeout as sleep } from "node:timers/promises";
import type pg from "pg";
import type { PrismaClient } from "../../generated/prisma/client.js";
import type { Logger } from "../../log.js";
import type { RawContact } from "../../api/response.js";
import { CONTACT_COLUMNS, MAPPING_VERSION, mapContact } from "../../records/mapContact.js";
import { ZERO_COUNTERS, finishRun, startRun } from "./runs.js";

// Any constant works; the second key is the account's hash.
const REMAP_LOCK_KEY = 712_638_502;

export const DEFAULT_REMAP_BATCH = 1000;

const DERIVED = CONTACT_COLUMNS.filter((c) => c.column !== "raw" && c.column !== "mapping_version");
const recordType = ["id text", ...DERIVED.map((c) => `"${c.column}" ${c.pgType}`)].join(", ");
const oldValues = DERIVED.map((c) => `c."${c.column}"`).join(", ");
const newValues = DERIVED.map((c) => `n."${c.column}"`).join(", ");

const TAKE_SQL = `
SELECT id, raw FROM contacts
WHERE account = $1 AND mapping_version < $2
LIMIT $3
FOR UPDATE SKIP LOCKED`;

// `changed` is worked out against the row as it was (RETURNING would see the new values).
const REWRITE_SQL = `
UPDATE contacts c SET
  ${DERIVED.map((col) => `"${col.column}" = x."${col.column}"`).join(",\n  ")},
  mapping_version = $4,
  synced_at = CASE WHEN x.changed THEN now() ELSE c.synced_at END,
  sync_run_id = CASE WHEN x.changed THEN $3 ELSE c.sync_run_id END
FROM (
  SELECT n.*, (${oldValues}) IS DISTINCT FROM (${newValues}) AS changed
  FROM jsonb_to_recordset($2::jsonb) AS n(${recordType})
  JOIN contacts c ON c.account = $1 AND c.id = n.id
) x
WHERE c.account = $1 AND c.id = x.id
RETURNING x.changed`;

export interface RemapOptions {
  batchSize?: number;
  /** Stop starting batches after this long (the batch under way finishes); unset: until done. */
  budgetMs?: number;
  /** Wait for another process that is re-deriving this account, instead of leaving the work to it. */
  wait?: boolean;
  signal?: AbortSignal;
  /** Called after each committed batch (progress, tests). */
  onBatch?: (batch: { rows: number; changed: number }) => void | Promise<void>;
}

export interface RemapSummary {
  /** Rows re-derived, and how many of them had a typed column change. */
  rows: number;
  changed: number;
  batches: number;
  /** Rows still to do (0: done). */
  remaining: number;
  /** Another process holds the account's re-derivation and `wait` was not set: nothing was done. */
  busy: boolean;
  runId: bigint | null;
}

/** How many rows of the account an older mapping wrote. */
export async function countStale(pool: pg.Pool | pg.PoolClient, account: string): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM contacts WHERE account = $1 AND mapping_version < $2`, [account, MAPPING_VERSION]);
  return rows[0]?.n ?? 0;
}

export async function remapContacts(db: { pool: pg.Pool; prisma: PrismaClient }, account: string, logger: Logger, options: RemapOptions = {}): Promise<RemapSummary> {
  const batchSize = options.batchSize ?? DEFAULT_REMAP_BATCH;
  const deadline = options.budgetMs === undefined ? Infinity : Date.now() + options.budgetMs;
  const summary: RemapSummary = { rows: 0, changed: 0, batches: 0, remaining: 0, busy: false, runId: null };
  const client = await db.pool.connect();
  let locked = false;
  try {
    if (options.wait) {
      await client.query(`SELECT pg_advisory_lock($1, hashtext($2))`, [REMAP_LOCK_KEY, account]);
      locked = true;
    } else {
      const { rows } = await client.query<{ ok: boolean }>(`SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok`, [REMAP_LOCK_KEY, account]);
      locked = rows[0]?.ok === true;
    }
    if (!locked) return { ...summary, busy: true, remaining: await countStale(client, account) };
    if ((await countStale(client, account)) === 0) return summary;

    summary.runId = await startRun(db.prisma, account, "remap", { start: null, end: null });
    logger.info({ account, runId: String(summary.runId), version: MAPPING_VERSION }, "re-deriving typed columns of rows an older mapping wrote");
    let error: unknown;
    try {
      while (Date.now() < deadline && !options.signal?.aborted) {
        const batch = await remapBatch(client, account, batchSize, summary.runId);
        if (batch.rows === 0) {
          // What is left is held by syncs (which write it with the current mapping): a slice leaves it for
          // the next pass; a run to the end waits a moment and looks again.
          if (options.budgetMs !== undefined || (await countStale(client, account)) === 0) break;
          await sleep(1000, undefined, { signal: options.signal }).catch(() => undefined);
          continue;
        }
        summary.rows += batch.rows;
        summary.changed += batch.changed;
        summary.batches += 1;
        await options.onBatch?.(batch);
      }
    } catch (e) {
      error = e;
    }
    summary.remaining = error ? -1 : await countStale(client, account);
    const counters = { ...ZERO_COUNTERS, received: summary.rows, updated: summary.changed, unchanged: summary.rows - summary.changed };
    await finishRun(db.prisma, summary.runId, error ? "failed" : summary.remaining === 0 ? "succeeded" : "stopped", counters, error ? String((error as Error).message ?? error) : undefined).catch(() => undefined);
    if (error) throw error;
    logger.info({ account, rows: summary.rows, changed: summary.changed, remaining: summary.remaining }, summary.remaining === 0 ? "every row is derived by the current mapping" : "re-derivation paused; it carries on after the next pass");
    return summary;
  } finally {
    if (locked) await client.query(`SELECT pg_advisory_unlock($1, hashtext($2))`, [REMAP_LOCK_KEY, account]).catch(() => undefined);
    client.release();
  }
}

/** One batch in its own transaction: take stale rows, map their raw, write the columns back. */
async function remapBatch(client: pg.PoolClient, account: string, batchSize: number, runId: bigint): Promise<{ rows: number; changed: number }> {
  await client.query("BEGIN");
  try {
    const { rows } = await client.query<{ id: string; raw: RawContact }>(TAKE_SQL, [account, MAPPING_VERSION, batchSize]);
    if (rows.length === 0) {
      await client.query("COMMIT");
      return { rows: 0, changed: 0 };
    }
    // The stored id is the key: raw._id is what the API sent, which the row was keyed by anyway.
    const mapped = rows.map((r) => {
      const { raw: _raw, mapping_version: _v, ...columns } = mapContact(r.raw);
      return { ...columns, id: r.id };
    });
    const result = await client.query<{ changed: boolean }>(REWRITE_SQL, [account, JSON.stringify(mapped), runId, MAPPING_VERSION]);
    await client.query("COMMIT");
    return { rows: rows.length, changed: result.rows.filter((r) => r.changed).length };
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  }
}
