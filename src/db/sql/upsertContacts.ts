// The page write, straight through pg (no ORM in the middle), as ONE statement: the page travels as one
// typed array per column, unpacked by `unnest` (raw and attributes as one JSON array text each), and the
// same statement records what the page means for the pass (reconcile's seen ids, the checkpoint, the run's
// figures) in data-modifying CTEs. One statement is one transaction and one round trip: no BEGIN/COMMIT and
// no three bookkeeping statements per page, which cost the sync and PostgreSQL more CPU than the rows' own
// bytes (docs/benchmarks.md, "Write path"). A contact whose `raw` did not change (and that is not marked
// deleted) is left alone: no new row version, no write, no history.
import { createHash } from "node:crypto";
import type pg from "pg";
import type { RawContact } from "../../api/response.js";
import { CONTACT_COLUMNS, JSON_COLUMNS, mapPage, type ContactPage } from "../../records/mapContact.js";
import type { PassKind } from "./checkpoints.js";

export interface UpsertCounts {
  inserted: number;
  updated: number;
  unchanged: number;
  /** Contacts that were marked deleted and came back. */
  restored: number;
}

/** Anything that runs one statement: a pool (the statement is its own transaction) or a client. */
export type Queryable = Pick<pg.ClientBase, "query">;

/** What the page means for its pass, written by the same statement as the contacts. */
export interface PageBookkeeping {
  /** Reconcile: the pass under which the page's ids are recorded as seen (reconcile_seen). */
  seenBy?: bigint;
  /** The resume point that the page covers (only when the lane scheduler allows one). */
  cursor?: { kind: PassKind; cursor: Date | null; order: string | null; pageSize: number };
  /** Where the lane scheduler allows no cursor (a lane above still reads): how far this page's lane got. */
  lane?: { kind: PassKind; top: Date; cursor: Date; order: string };
  /** The run's figures to add, besides the write's own (inserted, updated, unchanged, restored). */
  figures?: { received: number; requests: number; retries: number };
}

const columns = CONTACT_COLUMNS.map((c) => `"${c.column}"`);
/** $1 account, $2 ids, $3 run, then one parameter per column; the bookkeeping's parameters follow. */
const FIRST_EXTRA = CONTACT_COLUMNS.length + 4;
/** Where raw's parameter is in the values (0-based). */
const RAW_PARAM = CONTACT_COLUMNS.findIndex((c) => c.column === "raw") + 3;

/**
 * The page's source rows. Lists travel as array literals (a text[] of text[] cannot be ragged), cast per row.
 * JSON columns are one JSON array text each, in the rows' order; or, with `positions` (the parameter of each
 * row's position in the answer), `raw` is the element at that position of the answer's own `data` list, its
 * bytes sent once as they arrived (bytea, read as UTF-8 JSON).
 */
function inputSql(positions: string | null): string {
  const arrayType = (pgType: string) => (pgType === "text[]" ? "text[]" : `${pgType}[]`);
  const numbered = CONTACT_COLUMNS.map((c, i) => ({ ...c, param: i + 4 }));
  const scalar = numbered.filter((c) => !JSON_COLUMNS.has(c.column));
  const json = numbered.filter((c) => JSON_COLUMNS.has(c.column));
  const select = CONTACT_COLUMNS.map((c) => (JSON_COLUMNS.has(c.column) ? `j_${c.column}.v AS "${c.column}"` : c.pgType === "text[]" ? `x."${c.column}"::text[]` : `x."${c.column}"`));
  const source = (c: { column: string; param: number }) =>
    positions !== null && c.column === "raw"
      ? `JOIN jsonb_array_elements(convert_from($${c.param}::bytea, 'UTF8')::jsonb -> 'data') WITH ORDINALITY AS j_raw(v, ord) ON j_raw.ord = x.src`
      : `JOIN jsonb_array_elements($${c.param}::jsonb) WITH ORDINALITY AS j_${c.column}(v, ord) ON j_${c.column}.ord = x.ord`;
  return `SELECT x.id, ${select.join(", ")}
  FROM unnest($2::text[], ${scalar.map((c) => `$${c.param}::${arrayType(c.pgType)}`).join(", ")}${positions !== null ? `, ${positions}::int[]` : ""}) WITH ORDINALITY AS x(id, ${scalar.map((c) => `"${c.column}"`).join(", ")}${positions !== null ? ", src" : ""}, ord)
  ${json.map(source).join("\n  ")}`;
}

interface Variant {
  /** raw from the answer's bytes (ContactPage.rawFrom). */
  body: boolean;
  seen: boolean;
  cursor: boolean;
  lane: boolean;
  figures: boolean;
}

/** The statement for one combination of bookkeeping (each is prepared once per connection under its own name). */
export function pageSql(v: Variant): string {
  let next = FIRST_EXTRA;
  const param = () => `$${next++}`;
  const positions = v.body ? param() : null;
  const parts: string[] = [];
  if (v.seen) {
    parts.push(`seen AS (
  INSERT INTO reconcile_seen (run_id, account, id)
  SELECT ${param()}::bigint, $1, unnest($2::text[])
  ON CONFLICT DO NOTHING
)`);
  }
  if (v.cursor) {
    const [kind, cursor, order, size] = [param(), param(), param(), param()];
    parts.push(`cursor AS (
  INSERT INTO sync_checkpoints (account, kind, cursor, cursor_order, page_size, updated_at)
  VALUES ($1, ${kind}, ${cursor}::timestamptz, ${order}, ${size}::int, now())
  ON CONFLICT (account, kind) DO UPDATE SET
    cursor = EXCLUDED.cursor, cursor_order = EXCLUDED.cursor_order, page_size = EXCLUDED.page_size, updated_at = EXCLUDED.updated_at
)`);
  }
  if (v.lane) {
    // Lanes commit concurrently: each statement merges its own entry into the row as it is at its turn.
    const [kind, top, cursor, order] = [param(), param(), param(), param()];
    parts.push(`lane AS (
  UPDATE sync_checkpoints SET
    lane_progress = coalesce(lane_progress, '{}'::jsonb) || jsonb_build_object(${top}::text, ${cursor}::text),
    cursor_order = ${order}, updated_at = now()
  WHERE account = $1 AND kind = ${kind}
)`);
  }
  if (v.figures) {
    const [received, requests, retries] = [param(), param(), param()];
    parts.push(`figures AS (
  UPDATE sync_runs r SET
    pages = r.pages + 1, received = r.received + ${received}::int, inserted = r.inserted + n.inserted, updated = r.updated + n.updated,
    unchanged = r.unchanged + (cardinality($2::text[]) - n.inserted - n.updated), restored = r.restored + n.restored,
    requests = r.requests + ${requests}::int, retries = r.retries + ${retries}::int
  FROM counts n
  WHERE r.id = $3::bigint
)`);
  }
  return `
WITH input AS (
  ${inputSql(positions)}
),
-- The run that writes: the caller's, else the one run of this account under way (the account lock lets one
-- pass at a time write an account, and startRun closes runs left open by a killed process).
run AS (
  SELECT coalesce($3::bigint, (SELECT max(r.id) FROM sync_runs r WHERE r.account = $1 AND r.status = 'running' AND r.kind <> 'remap')) AS id
),
-- The ids straight from their parameter, not from input: referenced once, input is inlined into the insert
-- instead of being materialised first (every row, raw included, copied once more per page).
was_deleted AS (
  SELECT c.id FROM contacts c WHERE c.account = $1 AND c.id = ANY($2::text[]) AND c.deleted_at IS NOT NULL
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
),
counts AS (
  SELECT
    (SELECT count(*) FROM written WHERE inserted)::int AS inserted,
    (SELECT count(*) FROM written WHERE NOT inserted)::int AS updated,
    (SELECT count(*) FROM was_deleted)::int AS restored
)${parts.map((p) => `,\n${p}`).join("")}
SELECT inserted, updated, restored FROM counts`;
}

const STATEMENTS = new Map<string, { name: string; text: string }>();

function statementFor(v: Variant): { name: string; text: string } {
  const key = `${v.body ? "b" : ""}${v.seen ? "s" : ""}${v.cursor ? "c" : ""}${v.lane ? "l" : ""}${v.figures ? "f" : ""}`;
  let statement = STATEMENTS.get(key);
  if (!statement) {
    // The name carries a digest of the text: a connection that prepared another text under an old name
    // (a statement changed by an upgrade, in a pool that outlived it) cannot run the wrong one.
    const text = pageSql(v);
    statement = { name: `contacts_sync_page_${key || "plain"}_${createHash("sha256").update(text).digest("hex").slice(0, 12)}`, text };
    STATEMENTS.set(key, statement);
  }
  return statement;
}

/**
 * Writes a page (mapped by mapPage: distinct ids, in id order, since PostgreSQL refuses to update one row
 * twice in a statement and lanes must lock rows in one order) and its bookkeeping, in one statement: all
 * of it commits or none of it does, so a checkpoint can never run ahead of the rows it covers. `runId` is
 * the sync_runs row of the pass, written to `sync_run_id` (and given the figures); callers should pass it
 * (see the `run` step above).
 */
export async function writePage(db: Queryable, account: string, page: ContactPage, runId: bigint | null, book: PageBookkeeping = {}): Promise<UpsertCounts> {
  const v: Variant = {
    body: page.rawFrom !== undefined, seen: book.seenBy !== undefined, cursor: book.cursor !== undefined,
    lane: book.lane !== undefined && book.cursor === undefined, figures: book.figures !== undefined && runId !== null,
  };
  if (page.ids.length === 0 && !v.cursor && !v.lane && !v.figures) return { inserted: 0, updated: 0, unchanged: 0, restored: 0 };
  const values: unknown[] = [account, page.ids, runId === null ? null : String(runId), ...page.columns];
  if (page.rawFrom) {
    values[RAW_PARAM] = page.rawFrom.json;
    values.push(page.rawFrom.positions);
  }
  if (v.seen) values.push(String(book.seenBy));
  if (v.cursor) values.push(book.cursor!.kind, book.cursor!.cursor, book.cursor!.order, book.cursor!.pageSize);
  if (v.lane) values.push(book.lane!.kind, book.lane!.top.toISOString(), book.lane!.cursor.toISOString(), book.lane!.order);
  if (v.figures) values.push(book.figures!.received, book.figures!.requests, book.figures!.retries);
  const statement: pg.QueryConfig = { ...statementFor(v), values };
  const result = await db.query<{ inserted: number; updated: number; restored: number }>(statement);
  const { inserted = 0, updated = 0, restored = 0 } = result.rows[0] ?? {};
  return { inserted, updated, unchanged: page.ids.length - inserted - updated, restored };
}

/** The contacts of a page alone, no bookkeeping (tests and tools). */
export async function upsertPage(db: Queryable, account: string, page: ContactPage, runId: bigint | null = null): Promise<UpsertCounts> {
  return writePage(db, account, page, runId);
}

/** Maps and writes contacts as the API sent them (tests and tools; the sink maps once and calls writePage). */
export async function upsertContacts(db: Queryable, account: string, contacts: readonly RawContact[], runId: bigint | null = null): Promise<UpsertCounts> {
  return upsertPage(db, account, mapPage(contacts), runId);
}
