// `contacts-sync grant-reader <role>`: creates (if needed) a role that can read the mirror and nothing else,
// then says how to give a BI tool a login of its own (docs/sql.md has the longer version).
import type { Database } from "../db/client.js";
import { grantReader, readerRoleProblem } from "../db/sql/grantReader.js";
import { ConfigError } from "../errors.js";

/** The role named on the command line; a usage error before anything starts when it is missing or unusable. */
export function readerRoleArgument(positionals: string[]): string {
  if (positionals.length !== 1) {
    throw new ConfigError([`grant-reader needs exactly one role name, e.g. contacts-sync grant-reader contacts_reader (got ${positionals.length})`]);
  }
  const role = positionals[0]!;
  const problem = readerRoleProblem(role);
  if (problem) throw new ConfigError([`grant-reader: ${problem}`]);
  return role;
}

export async function grantReaderCommand(db: Database, role: string): Promise<string> {
  const result = await grantReader(db.pool, role);
  const quoted = /^[a-z_][a-z0-9_]*$/.test(role) ? role : `"${role.replaceAll('"', '""')}"`;
  const lines = [
    `${result.created ? `Created role ${quoted} (NOLOGIN)` : `Role ${quoted} already existed`}: it may SELECT every table and view of ` +
      "the mirror, including those later migrations add, and nothing else.",
    ...result.warnings.map((w) => `warning: ${w}`),
    "",
    "Give each BI tool a login of its own that is a member of it, e.g. in psql:",
    `  CREATE ROLE metabase LOGIN PASSWORD 'choose-a-long-password' IN ROLE ${quoted};`,
    "  ALTER ROLE metabase SET statement_timeout = '60s';   -- optional: no runaway dashboard query",
    `  ALTER ROLE metabase SET search_path = ${db.schema};   -- the mirror's schema: its tables by their plain names`,
    "Then connect the tool with that user (docs/sql.md: Metabase, Grafana, Superset).",
  ];
  return lines.join("\n");
}
