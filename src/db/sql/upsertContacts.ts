// One set-based upsert per page, straight through pg (no ORM in the middle): the page travels as one typed
// array per column, unpacked by `unnest` in a prepared statement (raw and attributes as one JSON array
// each), so a page of any size is one statement and one plan. Measured against the page as one jsonb
// parameter (the form before, with and without Prisma): docs/benchmarks.md, "Write path". A contact whose `raw` did not change (and that is not marked deleted) is
// left alone: no new row version, no write, no history.
import type pg from "pg";
import type { RawContact } from "../../api/response.js";
import { CONTACT_COLUMNS, mapPage, type ContactPage } from "../../records/mapContact.js";

export interface UpsertCounts {
  inserted: number;
  updated: number;
  unchanged: number;
  /** Contacts that were marked deleted and came back. */
  restored: number;
}

/** Anything that runs one statement: a pool client inside the page's transaction (or a pool, for one-statement use). */
export type Queryable = Pick<pg.ClientBase, "query">;

const columns = CONTACT_COLUMNS.map((c) => `"${c.column}"`);
const JSON_COLUMNS = new Set(CONTACT_COLUMNS.filter((c) => c.pgType === "jsonb").map((c) => c.column));

/**
 * The page's source rows. Lists travel as array literals (a text[] of text[] cannot be ragged), cast per row.
 * JSON columns (raw, attributes) either travel as one JSON array text each, spliced from each contact's own
 * serialisation with no escaping, or as text[] (escaped as array literals, cast per row): both measured,
 * the first won (docs/benchmarks.md, "Write path").
 */
export function inputSql(jsonAsArrays: boolean): string {
  const arrayType = (pgType: string) => (pgType === "text[]" ? "text[]" : `${pgType}[]`);
  if (!jsonAsArrays) {
    const params = CONTACT_COLUMNS.map((c, i) => `$${i + 4}::${c.pgType === "jsonb" ? "text[]" : arrayType(c.pgType)}`);
    const select = CONTACT_COLUMNS.map((c) => (c.pgType === "text[]" || c.pgType === "jsonb" ? `x."${c.column}"::${c.pgType}` : `x."${c.column}"`));
    return `SELECT x.id, ${select.join(", ")} FROM unnest($2::text[], ${params.join(", ")}) AS x(id, ${columns.join(", ")})`;
  }
  const scalar = CONTACT_COLUMNS.map((c, i) => ({ ...c, param: i + 4 })).filter((c) => !JSON_COLUMNS.has(c.column));
  const json = CONTACT_COLUMNS.map((c, i) => ({ ...c, param: i + 4 })).filter((c) => JSON_COLUMNS.has(c.column));
  const select = CONTACT_COLUMNS.map((c) => (JSON_COLUMNS.has(c.column) ? `j_${c.column}.v AS "${c.column}"` : c.pgType === "text[]" ? `x."${c.column}"::text[]` : `x."${c.column}"`));
  return `SELECT x.id, ${select.join(", ")}
  FROM unnest($2::text[], ${scalar.map((c) => `$${c.param}::${arrayType(c.pgType)}`).join(", ")}) WITH ORDINALITY AS x(id, ${scalar.map((c) => `"${c.column}"`).join(", ")}, ord)
  ${json.map((c) => `JOIN jsonb_array_elements($${c.param}::jsonb) WITH ORDINALITY AS j_${c.column}(v, ord) ON j_${c.column}.ord = x.ord`).join("\n  ")}`;
}

/** Binds a mapped page to the statement's parameters: JSON columns as one JSON array text each (see inputSql). */
export function pageValues(page: ContactPage, jsonAsArrays: boolean): unknown[] {
  return CONTACT_COLUMNS.map((c, i) => (jsonAsArrays && JSON_COLUMNS.has(c.column) ? `[${(page.columns[i] as string[]).join(",")}]` : page.columns[i]));
}

export function upsertSql(jsonAsArrays: boolean): string {
  return UPSERT_TEMPLATE.replace("<INPUT>", inputSql(jsonAsArrays));
}

/** The form the product uses (measured: docs/benchmarks.md). */
const JSON_AS_ARRAYS = true;

const UPSERT_TEMPLATE = `
WITH input AS (
  <INPUT>
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
  -- In id order whatever the join above did: lanes sharing a row lock rows in one order (no deadlock).
  ORDER BY input.id
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

const UPSERT_SQL = upsertSql(JSON_AS_ARRAYS);

/** Prepared once per connection by name; the text is constant. */
const UPSERT_STATEMENT = "contacts_sync_upsert_page_v2";

/**
 * Writes a page (mapped by mapPage: distinct ids, in id order, since PostgreSQL refuses to update one row
 * twice in a statement and lanes must lock rows in one order). `runId` is the sync_runs row of the pass,
 * written to `sync_run_id`; callers should pass it (see the `run` step above). Run it inside the page's
 * transaction: the checkpoint and the run's figures commit with it.
 */
export async function upsertPage(client: Queryable, account: string, page: ContactPage, runId: bigint | null = null): Promise<UpsertCounts> {
  if (page.ids.length === 0) return { inserted: 0, updated: 0, unchanged: 0, restored: 0 };
  const statement: pg.QueryConfig = {
    name: UPSERT_STATEMENT,
    text: UPSERT_SQL,
    values: [account, page.ids, runId === null ? null : String(runId), ...pageValues(page, JSON_AS_ARRAYS)],
  };
  const result = await client.query<{ inserted: number; updated: number; restored: number }>(statement);
  const { inserted = 0, updated = 0, restored = 0 } = result.rows[0] ?? {};
  return { inserted, updated, unchanged: page.ids.length - inserted - updated, restored };
}

/** Maps and writes contacts as the API sent them (tests and tools; the sink maps once and calls upsertPage). */
export async function upsertContacts(client: Queryable, account: string, contacts: readonly RawContact[], runId: bigint | null = null): Promise<UpsertCounts> {
  return upsertPage(client, account, mapPage(contacts), runId);
}
