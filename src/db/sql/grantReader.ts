// Read-only access for analysts and BI tools: a role that may SELECT every table and view of the mirror,
// including those later migrations add, except the sync engine's bookkeeping, and nothing else. Login roles for the tools are made members of it
// (docs/sql.md), so a password never passes through this program.
import type pg from "pg";
import { schemaOf } from "../client.js";
import { HELPER_SCHEMA } from "../schema.js";

export interface GrantResult {
  role: string;
  created: boolean;
  /** Facts the caller should tell the user: the role may be able to do more than read. */
  warnings: string[];
}

/**
 * The sync engine's own tables: checkpoints, the run log, the reconcile pass's working set and the applied
 * migrations. Nothing an analyst needs, and they say how the mirror is operated: the reader cannot read them.
 */
export const BOOKKEEPING_TABLES = ["sync_checkpoints", "sync_runs", "reconcile_seen", "api_profiles", "_prisma_migrations"];

/** Role attributes that no read-only role may have. */
const POWERS: [column: string, name: string][] = [
  ["rolsuper", "SUPERUSER"],
  ["rolcreaterole", "CREATEROLE"],
  ["rolcreatedb", "CREATEDB"],
  ["rolreplication", "REPLICATION"],
  ["rolbypassrls", "BYPASSRLS"],
];

/** Why `name` cannot be a reader role, or null when it can. */
export function readerRoleProblem(name: string): string | null {
  if (name.length === 0) return "the role name is empty";
  if (Buffer.byteLength(name, "utf8") > 63) return `"${name}" is longer than PostgreSQL's 63-byte limit for names`;
  if (name.includes("\u0000")) return "the role name contains a NUL character";
  if (/^pg_/i.test(name)) return `"${name}": names starting with pg_ are reserved for PostgreSQL's own roles`;
  if (["public", "none", "current_user", "current_role", "session_user"].includes(name.toLowerCase())) {
    return `"${name}" is a reserved role name in PostgreSQL`;
  }
  return null;
}

export class GrantReaderError extends Error {
  override name = "GrantReaderError";
}

/** `schema`: the mirror's (DATABASE_SCHEMA), as the pool was opened with. */
export async function grantReader(pool: pg.Pool, role: string, schema = schemaOf(pool)): Promise<GrantResult> {
  const problem = readerRoleProblem(role);
  if (problem) throw new GrantReaderError(`Cannot use that role name: ${problem}. Nothing was changed.`);
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    const { rows: [me] } = await client.query<{ user: string; db: string; owner: string | null; helpers: boolean }>(
      `SELECT current_user AS user, current_database() AS db,
              (SELECT tableowner FROM pg_tables WHERE schemaname = $1 AND tablename = 'contacts') AS owner,
              to_regnamespace($2) IS NOT NULL AS helpers`,
      [schema, `"${HELPER_SCHEMA}"`],
    );
    if (!me!.owner) {
      throw new GrantReaderError(`The table contacts does not exist in the schema ${schema} (DATABASE_SCHEMA) of this database: run \`contacts-sync migrate\` first. Nothing was changed.`);
    }
    if (role === me!.user || role === me!.owner) {
      throw new GrantReaderError(
        `"${role}" is the role that ${role === me!.owner ? "owns the mirror's tables" : "contacts-sync connects as"}; it can write, so it cannot ` +
          "be made read-only. Choose another name for the reader role. Nothing was changed.",
      );
    }
    const { rows: existing } = await client.query<Record<string, boolean>>(
      `SELECT ${POWERS.map(([c]) => c).join(", ")} FROM pg_roles WHERE rolname = $1`,
      [role],
    );
    const powers = existing[0] ? POWERS.filter(([c]) => existing[0]![c]).map(([, n]) => n) : [];
    if (powers.length > 0) {
      throw new GrantReaderError(
        `Role "${role}" already exists with ${powers.join(", ")}, which a read-only role must not have. Nothing was changed. ` +
          `Choose another name, or remove ${powers.length > 1 ? "those attributes" : "that attribute"} (ALTER ROLE ... NO${powers[0]}) and run grant-reader again.`,
      );
    }

    // Identifiers are quoted by pg's escapeIdentifier (doubles any '"'), never pasted in as they came.
    const id = client.escapeIdentifier(role);
    const created = existing.length === 0;
    if (created) {
      await client.query(`CREATE ROLE ${id} NOLOGIN`).catch((error: { code?: string; message: string }) => {
        if (error.code === "42501") {
          throw new GrantReaderError(
            `The database user "${me!.user}" may not create roles (${error.message}). Nothing was changed. Ask an administrator to run ` +
              `CREATE ROLE ${id} NOLOGIN; then run grant-reader again: it only grants privileges to an existing role.`,
          );
        }
        throw error;
      });
    }
    const { rows: present } = await client.query<{ name: string }>(
      `SELECT relname AS name FROM pg_class WHERE relnamespace = to_regnamespace($2) AND relname = ANY($1::text[])`,
      [BOOKKEEPING_TABLES, client.escapeIdentifier(schema)],
    );
    const bookkeeping = present.map((r) => r.name);
    const statements = [
      `GRANT CONNECT ON DATABASE ${client.escapeIdentifier(me!.db)} TO ${id}`,
      `GRANT USAGE ON SCHEMA ${client.escapeIdentifier(schema)} TO ${id}`,
      // DATABASE_SCHEMA=public keeps the earlier layout: the helpers that contacts_as_of() calls stay there.
      ...(me!.helpers && schema !== HELPER_SCHEMA ? [`GRANT USAGE ON SCHEMA ${client.escapeIdentifier(HELPER_SCHEMA)} TO ${id}`] : []),
      // Whatever the role may have been given before on these tables goes: it reads, nothing else.
      `REVOKE ALL ON ALL TABLES IN SCHEMA ${client.escapeIdentifier(schema)} FROM ${id}`,
      `REVOKE ALL ON ALL SEQUENCES IN SCHEMA ${client.escapeIdentifier(schema)} FROM ${id}`,
      `GRANT SELECT ON ALL TABLES IN SCHEMA ${client.escapeIdentifier(schema)} TO ${id}`,
      ...bookkeeping.map((table) => `REVOKE ALL ON ${client.escapeIdentifier(schema)}.${client.escapeIdentifier(table)} FROM ${id}`),
      // Tables and views created later by migrations (run as the owner) are readable too.
      `ALTER DEFAULT PRIVILEGES FOR ROLE ${client.escapeIdentifier(me!.owner)} IN SCHEMA ${client.escapeIdentifier(schema)} GRANT SELECT ON TABLES TO ${id}`,
      // An earlier release granted that in public, where the mirror no longer is: whatever another application
      // creates there later is not the reader's to see. (What it was granted there before stays: not ours to undo.)
      ...(schema !== "public" ? [`ALTER DEFAULT PRIVILEGES FOR ROLE ${client.escapeIdentifier(me!.owner)} IN SCHEMA public REVOKE SELECT ON TABLES FROM ${id}`] : []),
    ];
    for (const sql of statements) {
      await client.query(sql).catch((error: { code?: string; message: string }) => {
        if (error.code === "42501") {
          throw new GrantReaderError(
            `The database user "${me!.user}" may not grant access to the mirror's tables (${error.message}). Nothing was changed. ` +
              `Run grant-reader with DATABASE_URL set to the user that owns them ("${me!.owner}"), the one contacts-sync migrates with.`,
          );
        }
        throw error;
      });
    }

    const warnings: string[] = [];
    const { rows: memberOf } = await client.query<{ name: string }>(
      `SELECT g.rolname AS name FROM pg_auth_members m
       JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles r ON r.oid = m.member
       WHERE r.rolname = $1 ORDER BY 1`,
      [role],
    );
    if (memberOf.length > 0) {
      warnings.push(
        `"${role}" is a member of ${memberOf.map((m) => `"${m.name}"`).join(", ")}, and may do whatever ${memberOf.length > 1 ? "they" : "it"} may. ` +
          `For a strictly read-only role, REVOKE ${memberOf.map((m) => client.escapeIdentifier(m.name)).join(", ")} FROM ${id}.`,
      );
    }
    const { rows: [pub] } = await client.query<{ create: boolean }>(`SELECT has_schema_privilege('public', 'public', 'CREATE') AS create`);
    if (pub!.create) {
      warnings.push(
        "Every role (PUBLIC) may create tables in the schema public here (the default before PostgreSQL 15), so this one can too. " +
          "To close that for all roles: REVOKE CREATE ON SCHEMA public FROM PUBLIC;",
      );
    }
    await client.query("COMMIT");
    return { role, created, warnings };
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
