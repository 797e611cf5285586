// The mirror's own schema (DATABASE_SCHEMA, default contacts_sync): where its tables, views and functions
// live, how the migrations (written with unqualified names) are made to land there, and the one-time move of
// an install that an earlier release made in `public`. docs/design.md ("Its own schema").
import type pg from "pg";
import type { Logger } from "../log.js";
import type { Migration } from "./migrate.js";

export const DEFAULT_SCHEMA = "contacts_sync";

/**
 * The schema the migrations of earlier releases qualified their helper functions with (`contacts_sync.iso`,
 * ...). In a database whose DATABASE_SCHEMA is another one, those names are rewritten to it as the
 * migration is applied (the checksum stays the file's), so that every object lands in the one schema.
 */
export const HELPER_SCHEMA = "contacts_sync";

/** Why `name` cannot be the mirror's schema, or null when it can. Strict: a name analysts can type unquoted. */
export function schemaProblem(name: string): string | null {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) {
    return `expected a lower-case schema name (letters a-z, digits and _, not starting with a digit) such as ${DEFAULT_SCHEMA} or analytics, got "${name}"`;
  }
  if (name.length > 63) return `"${name}" is longer than PostgreSQL's 63-byte limit for names`;
  if (name.startsWith("pg_") || name === "information_schema") return `"${name}" is reserved for PostgreSQL's own catalogs`;
  return null;
}

/** The schema named by Prisma's `?schema=` in a database URL, or undefined. */
export function schemaOfUrl(url: string): string | undefined {
  try {
    return new URL(url).searchParams.get("schema") ?? undefined;
  } catch {
    return undefined;
  }
}

/**
 * `url` for a person's psql or BI tool: its sessions start in `schema` (libpq's and pg's `options`), so the
 * mirror's tables answer to their plain names, as in docs/sql.md.
 */
export function urlWithSearchPath(url: string, schema: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set("options", `-csearch_path=${schema}`);
  return parsed.toString();
}

/** `"name"`, for SQL text (names are checked by schemaProblem, and quoted anyway). */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * A migration's text for `schema`. Unqualified names need nothing (the runner's search_path is the schema);
 * names qualified with the helper schema are rewritten, unless the schema is the helper schema itself or
 * `public` (the layout of earlier releases: tables in public, helper functions in contacts_sync).
 */
export function migrationSqlFor(sql: string, schema: string): string {
  if (schema === HELPER_SCHEMA || schema === "public") return sql;
  const target = quoteIdent(schema);
  return sql
    .replace(/\bcontacts_sync\s*\./g, `${target}.`)
    .replace(/\b(SCHEMA\s+(?:IF\s+NOT\s+EXISTS\s+)?)contacts_sync\b/gi, `$1${target}`);
}

export type ObjectKind = "table" | "view" | "materialized view" | "function" | "type" | "sequence";

export interface OwnObject {
  kind: ObjectKind;
  name: string;
  /** Created in HELPER_SCHEMA by name (contacts_sync.x); otherwise unqualified, in the mirror's schema. */
  helper: boolean;
}

const NAME = String.raw`("(?:[^"]|"")+"|[A-Za-z_][\w$]*)`;
const OBJECT = new RegExp(
  String.raw`\b(CREATE|DROP)\s+(?:OR\s+REPLACE\s+)?(TABLE|VIEW|MATERIALIZED\s+VIEW|FUNCTION|TYPE|SEQUENCE)\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?${NAME}(?:\s*\.\s*${NAME})?`,
  "gi",
);

/**
 * SQL without comments, string literals, quoted-body text and dollar-quoted bodies: what is left names the
 * objects. One pass, leftmost first, so an apostrophe in a comment or a "--" in a string is read as such.
 */
function statementsOnly(sql: string): string {
  return sql.replace(/--[^\n]*|\/\*[\s\S]*?\*\/|'(?:[^']|'')*'|\$([A-Za-z_]\w*)?\$[\s\S]*?\$\1\$/g, " ");
}

const unquote = (name: string) => (name.startsWith('"') ? name.slice(1, -1).replaceAll('""', '"') : name.toLowerCase());

/**
 * The objects the migrations leave behind, read from their CREATE and DROP statements in order, plus
 * `_prisma_migrations`: what "ours" means when moving an install, never "everything in public" (the
 * database may be shared). test/integration/schema.test.ts checks the list against a migrated database.
 */
export function ownObjects(migrations: readonly Migration[]): OwnObject[] {
  const objects = new Map<string, OwnObject>();
  objects.set("table:_prisma_migrations", { kind: "table", name: "_prisma_migrations", helper: false });
  for (const migration of migrations) {
    for (const m of statementsOnly(migration.sql).matchAll(OBJECT)) {
      const kind = m[2]!.toLowerCase().replace(/\s+/g, " ") as ObjectKind;
      const qualified = m[4] !== undefined;
      const schema = qualified ? unquote(m[3]!) : undefined;
      const name = unquote(qualified ? m[4]! : m[3]!);
      if (schema !== undefined && schema !== HELPER_SCHEMA) continue;
      const key = `${kind}:${schema ?? ""}:${name}`;
      if (m[1]!.toUpperCase() === "DROP") objects.delete(key);
      else objects.set(key, { kind, name, helper: schema !== undefined });
    }
  }
  return [...objects.values()];
}

export interface MoveResult {
  moved: string[];
}

/**
 * Moves an install of an earlier release (tables, views, functions, types and `_prisma_migrations` in
 * `public`; helper functions in contacts_sync) into `schema`, in one transaction: all of it or nothing.
 * Only the objects the migrations make (ownObjects); anything else in `public` stays. Sequences, indexes,
 * constraints, triggers and privileges go with their tables; views and triggers refer to what they use by
 * identity, so they keep working. A no-op when there is no such install, so every start may call it.
 * Runs on `client` under the migration lock; the client's search_path is the target schema.
 */
export async function moveFromPublic(client: pg.PoolClient, schema: string, migrations: readonly Migration[], logger: Logger): Promise<MoveResult> {
  if (schema === "public") return { moved: [] };
  const names = migrations.map((m) => m.name);
  const found = async (where: string) => {
    const { rows } = await client.query<{ ours: boolean }>(
      `SELECT to_regclass($1) IS NOT NULL AS ours`,
      [`${quoteIdent(where)}."_prisma_migrations"`],
    );
    if (!rows[0]!.ours) return false;
    const { rows: mine } = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${quoteIdent(where)}."_prisma_migrations" WHERE migration_name = ANY($1::text[])`,
      [names],
    );
    return mine[0]!.n > 0;
  };
  // Our first migration's name in public's bookkeeping says the install there is ours, not another Prisma app's.
  if (!(await found("public"))) return { moved: [] };
  if (await found(schema)) {
    throw new Error(
      `contacts-sync finds its tables both in the schema public (an earlier release's install) and in "${schema}" (DATABASE_SCHEMA). ` +
        `Nothing was changed. Keep the one you want: point DATABASE_SCHEMA at it (DATABASE_SCHEMA=public keeps the earlier layout), ` +
        "or drop the other's tables; see docs/operations.md (Upgrading to a schema of its own).",
    );
  }
  const target = quoteIdent(schema);
  const moved: string[] = [];
  await client.query("BEGIN");
  try {
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${target}`);
    for (const object of ownObjects(migrations)) {
      const from = object.helper ? HELPER_SCHEMA : "public";
      if (from === schema) continue;
      if (object.kind === "function") {
        const { rows } = await client.query<{ signature: string }>(
          `SELECT p.oid::regprocedure::text AS signature FROM pg_proc p WHERE p.pronamespace = to_regnamespace($1) AND p.proname = $2`,
          [from, object.name],
        );
        // regprocedure's text names exactly that function (qualified when the search_path would not find it).
        for (const { signature } of rows) {
          await client.query(`ALTER FUNCTION ${signature} SET SCHEMA ${target}`);
          moved.push(`${from}.${object.name}()`);
        }
        continue;
      }
      if (object.kind === "type") {
        const { rows } = await client.query(
          `SELECT 1 FROM pg_type WHERE typnamespace = to_regnamespace($1) AND typname = $2 AND typrelid = 0`,
          [from, object.name],
        );
        if (rows.length === 0) continue;
        await client.query(`ALTER TYPE ${quoteIdent(from)}.${quoteIdent(object.name)} SET SCHEMA ${target}`);
        moved.push(`${from}.${object.name}`);
        continue;
      }
      const { rows } = await client.query<{ relkind: string }>(
        `SELECT relkind FROM pg_class WHERE relnamespace = to_regnamespace($1) AND relname = $2`,
        [from, object.name],
      );
      const relkind = rows[0]?.relkind;
      if (relkind === undefined) continue;
      const alter = { r: "TABLE", p: "TABLE", v: "VIEW", m: "MATERIALIZED VIEW", S: "SEQUENCE" }[relkind];
      if (!alter) continue;
      if (object.name === "_prisma_migrations" && !(await onlyOurs(client, names))) {
        // Shared with another Prisma app: take our rows, leave its own.
        await client.query(`CREATE TABLE ${target}."_prisma_migrations" (LIKE public."_prisma_migrations" INCLUDING ALL)`);
        await client.query(
          `WITH ours AS (DELETE FROM public."_prisma_migrations" WHERE migration_name = ANY($1::text[]) RETURNING *)
           INSERT INTO ${target}."_prisma_migrations" SELECT * FROM ours`,
          [names],
        );
        moved.push("public._prisma_migrations (our rows)");
        continue;
      }
      await client.query(`ALTER ${alter} ${quoteIdent(from)}.${quoteIdent(object.name)} SET SCHEMA ${target}`);
      moved.push(`${from}.${object.name}`);
    }
    if (schema !== HELPER_SCHEMA) await rewriteHelperReferences(client, schema);
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw new Error(
      `Could not move the mirror from the schema public into "${schema}" (DATABASE_SCHEMA); the move was rolled back and ` +
        `nothing was changed: ${(error as Error).message}`,
    );
  }
  logger.info({ schema, objects: moved.length }, `moved the mirror's ${moved.length} objects from the schema public into "${schema}" (DATABASE_SCHEMA); dashboards that name public.<table> must name ${schema}.<table> now`);
  return { moved };
}

async function onlyOurs(client: pg.PoolClient, names: string[]): Promise<boolean> {
  const { rows } = await client.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM public."_prisma_migrations" WHERE migration_name <> ALL($1::text[])`,
    [names],
  );
  return rows[0]!.n === 0;
}

/**
 * Helper functions moved out of contacts_sync still call each other as contacts_sync.x in their bodies
 * (text, read at call time): re-create each such function, same signature and place, with the names
 * rewritten. CREATE OR REPLACE keeps its identity, so triggers and views that use it stay as they are.
 */
async function rewriteHelperReferences(client: pg.PoolClient, schema: string): Promise<void> {
  const { rows } = await client.query<{ def: string }>(
    `SELECT pg_get_functiondef(p.oid) AS def FROM pg_proc p
     WHERE p.pronamespace = to_regnamespace($1) AND p.prokind = 'f' AND p.prosrc ~ '\\mcontacts_sync\\s*\\.'`,
    [schema],
  );
  for (const { def } of rows) await client.query(migrationSqlFor(def, schema));
  // The helper schema is left only if something else was put there (a failed DROP must not end the transaction).
  await client.query("SAVEPOINT helper_schema");
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${quoteIdent(HELPER_SCHEMA)} RESTRICT`);
    await client.query("RELEASE SAVEPOINT helper_schema");
  } catch (error) {
    if ((error as { code?: string }).code !== "2BP01") throw error;
    await client.query("ROLLBACK TO SAVEPOINT helper_schema");
  }
}
