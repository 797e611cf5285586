// Applies prisma/migrations/*/migration.sql in order and keeps Prisma's own `_prisma_migrations` table,
// so `prisma migrate status|deploy` agree with it wherever Prisma's engine can run, while this runner needs
// no engine at all (see ../shared/notes/toolchain.md). Under an advisory lock: replicas may start together.
import { createHash, randomUUID } from "node:crypto";
import { readdirSync, readFileSync, existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type pg from "pg";
import type { Logger } from "../log.js";
import { schemaOf } from "./client.js";
import { migrationSqlFor, moveFromPublic, quoteIdent } from "./schema.js";

/** Both src/db and dist/db sit two levels below the project root. */
export const MIGRATIONS_DIR = fileURLToPath(new URL("../../prisma/migrations", import.meta.url));

// Any constant works; this one spells "contacts-sync migrate" to whoever looks at pg_locks.
const MIGRATION_LOCK_KEY = 7_126_385_014;

export interface Migration {
  name: string;
  sql: string;
  checksum: string;
}

export function readMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(`${dir}/${entry.name}/migration.sql`))
    .map((entry) => entry.name)
    .sort()
    .map((name) => {
      const sql = readFileSync(`${dir}/${name}/migration.sql`, "utf8");
      return { name, sql, checksum: createHash("sha256").update(sql).digest("hex") };
    });
}

// Prisma's own definition of its bookkeeping table.
const CREATE_TABLE = `
CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

interface AppliedRow {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
}

export async function pendingMigrations(pool: pg.Pool, dir = MIGRATIONS_DIR): Promise<string[]> {
  const exists = await pool.query(`select to_regclass('"_prisma_migrations"') is not null as ok`);
  const all = readMigrations(dir).map((m) => m.name);
  if (!exists.rows[0]?.ok) return all;
  const applied = await pool.query<{ migration_name: string }>(
    `select migration_name from "_prisma_migrations" where finished_at is not null and rolled_back_at is null`,
  );
  const done = new Set(applied.rows.map((r) => r.migration_name));
  return all.filter((name) => !done.has(name));
}

/**
 * `schema`: where the mirror lives (DATABASE_SCHEMA); the pool's, as openDatabase was told. The session's
 * search_path is that schema alone while migrating, so unqualified names land there; it is put back after.
 */
export async function migrate(pool: pg.Pool, logger: Logger, dir = MIGRATIONS_DIR, schema = schemaOf(pool)): Promise<{ applied: string[] }> {
  const migrations = readMigrations(dir);
  const client = await pool.connect();
  const applied: string[] = [];
  let searchPath: string | undefined;
  try {
    await client.query("select pg_advisory_lock($1)", [MIGRATION_LOCK_KEY]);
    searchPath = (await client.query<{ path: string }>("select current_setting('search_path') as path")).rows[0]!.path;
    await client.query("select set_config('search_path', $1, false)", [quoteIdent(schema)]);
    // Created only when missing: CREATE SCHEMA asks for the CREATE privilege on the database even when it exists.
    const { rows: [present] } = await client.query<{ ok: boolean }>("select to_regnamespace($1) is not null as ok", [quoteIdent(schema)]);
    if (!present!.ok) await client.query(`CREATE SCHEMA ${quoteIdent(schema)}`);
    await moveFromPublic(client, schema, migrations, logger);
    await client.query(CREATE_TABLE);
    const rows = (await client.query<AppliedRow>(`select migration_name, checksum, finished_at, rolled_back_at from "_prisma_migrations"`)).rows;
    const known = new Map<string, AppliedRow>();
    for (const row of rows) if (row.rolled_back_at === null) known.set(row.migration_name, row);

    for (const migration of migrations) {
      const row = known.get(migration.name);
      if (row?.finished_at === null) {
        throw new Error(
          `Migration ${migration.name} was started earlier and did not finish. Inspect the database, then mark it ` +
            `rolled back (UPDATE "_prisma_migrations" SET rolled_back_at = now() WHERE migration_name = '${migration.name}') and run migrate again.`,
        );
      }
      if (row) {
        if (row.checksum !== migration.checksum) {
          logger.warn({ migration: migration.name }, "an applied migration's file has changed since it was applied; migrations must not be edited once released");
        }
        continue;
      }
      const started = Date.now();
      await client.query("begin");
      try {
        await client.query(migrationSqlFor(migration.sql, schema));
        await client.query(
          `insert into "_prisma_migrations" (id, checksum, migration_name, started_at, finished_at, applied_steps_count)
           values ($1, $2, $3, $4, now(), 1)`,
          [randomUUID(), migration.checksum, migration.name, new Date(started)],
        );
        await client.query("commit");
      } catch (error) {
        await client.query("rollback").catch(() => undefined);
        throw new Error(`Migration ${migration.name} failed and was rolled back, so the schema is as it was before it: ${(error as Error).message}`);
      }
      applied.push(migration.name);
      logger.debug({ migration: migration.name, ms: Date.now() - started }, "applied migration");
    }
    // One line for the lot: a fresh database gets every migration at once.
    if (applied.length > 0) logger.info({ migrations: applied.length, last: applied.at(-1), schema }, `applied ${applied.length} migration(s)`);
    await pinSearchPaths(client, schema);
  } finally {
    if (searchPath !== undefined) await client.query("select set_config('search_path', $1, false)", [searchPath]).catch(() => undefined);
    await client.query("select pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY]).catch(() => undefined);
    client.release();
  }
  return { applied };
}

/**
 * The mirror's PL/pgSQL functions (contacts_as_of, the history triggers) name tables without a schema, read
 * when they run: pinned to the mirror's schema, they work whatever the caller's search_path (an analyst's
 * is usually "$user", public). SQL-language helpers are left alone: a SET clause would stop their inlining.
 * Again after each migrate, as CREATE OR REPLACE in a later migration drops the setting, and a move
 * (DATABASE_SCHEMA=public, then another) leaves the old one.
 */
async function pinSearchPaths(client: pg.PoolClient, schema: string): Promise<void> {
  const { rows } = await client.query<{ signature: string }>(
    `SELECT p.oid::regprocedure::text AS signature
     FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
     WHERE p.pronamespace IN (to_regnamespace($1), to_regnamespace('contacts_sync')) AND l.lanname = 'plpgsql'
       AND (p.proconfig IS NULL
            -- pinned here before, to another schema (the mirror was moved): pinned again
            OR (cardinality(p.proconfig) = 1 AND p.proconfig[1] LIKE 'search_path=%' AND p.proconfig[1] NOT IN ('search_path=' || $1, 'search_path=' || $2)))`,
    [quoteIdent(schema), schema],
  );
  for (const { signature } of rows) await client.query(`ALTER FUNCTION ${signature} SET search_path = ${quoteIdent(schema)}`);
}
