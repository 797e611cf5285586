// What src/db/descriptions.ts generates: COMMENT ON statements, the column tables of docs/sql.md and
// docs/dbt/sources.yml. Pure functions of the descriptions; scripts/describe.ts writes the files.
import { DESCRIPTIONS, type RelationDoc } from "./descriptions.js";

/** The migration that first wrote the comments; later description changes go in new ones. */
export const DESCRIBE_MIGRATION = "20261130120000_describe_the_database";

/** First line of every generated comments migration (tests find the latest by it). */
export const GENERATED_MARK = "GENERATED from src/db/descriptions.ts";

/** Markdown to plain text for the database's comments: no backticks. */
function plain(text: string): string {
  return text.replace(/`/g, "");
}

function literal(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** The comment a column gets in the database: its meaning, and for API fields where they come from. */
export function columnComment(column: { meaning: string; source?: string }): string {
  const from = column.source && !column.source.startsWith("(") ? ` From the API: ${plain(column.source)}.` : "";
  return `${plain(column.meaning)}${from}`;
}

export function relationComment(relation: RelationDoc): string {
  return plain(relation.description);
}

/** Every COMMENT ON statement, in a stable order (the migration that describes the database). */
export function commentsSql(): string {
  const lines: string[] = [
    "-- contacts-sync: descriptions of every table, view and column analysts read, for BI tools, dbt and psql's \\d+.",
    "-- GENERATED from src/db/descriptions.ts by `npm run describe`; do not edit by hand.",
    "",
  ];
  for (const [name, relation] of Object.entries(DESCRIPTIONS)) {
    lines.push(`COMMENT ON ${relation.kind === "view" ? "VIEW" : "TABLE"} ${ident(name)} IS ${literal(relationComment(relation))};`);
    for (const [column, doc] of Object.entries(relation.columns)) {
      lines.push(`COMMENT ON COLUMN ${ident(name)}.${ident(column)} IS ${literal(columnComment(doc))};`);
    }
    lines.push("");
  }
  return lines.join("\n");
}

const BEGIN = (name: string) => `<!-- generated from src/db/descriptions.ts (npm run describe): ${name} -->`;
const END = "<!-- end of generated -->";

/** The markdown column table of one relation. */
export function columnTable(name: string): string {
  const relation = DESCRIPTIONS[name]!;
  const withSource = Object.values(relation.columns).some((c) => c.source !== undefined);
  const rows = Object.entries(relation.columns).map(([column, doc]) =>
    withSource ? `| \`${column}\` | ${doc.type} | ${doc.meaning} | ${doc.source ?? ""} |` : `| \`${column}\` | ${doc.type} | ${doc.meaning} |`,
  );
  const header = withSource ? "| column | type | meaning | from the API (`raw`) |\n|---|---|---|---|" : "| column | type | meaning |\n|---|---|---|";
  return [header, ...rows].join("\n");
}

/** The relations whose column tables docs/sql.md carries. */
export const DOCUMENTED_TABLES = ["contacts", "contact_changes", "contact_versions"];

/** docs/sql.md with each generated block replaced by what the descriptions say now. */
export function renderSqlDoc(markdown: string): string {
  let out = markdown;
  for (const name of DOCUMENTED_TABLES) {
    const start = out.indexOf(BEGIN(name));
    const end = out.indexOf(END, start);
    if (start < 0 || end < 0) throw new Error(`docs/sql.md has no generated block for ${name}: add the lines ${BEGIN(name)} and ${END}`);
    out = `${out.slice(0, start)}${BEGIN(name)}\n${columnTable(name)}\n${out.slice(end)}`;
  }
  return out;
}

/** docs/dbt/sources.yml: JSON strings are valid YAML double-quoted scalars. */
export function sourcesYml(): string {
  const q = JSON.stringify;
  const lines = [
    "# GENERATED from src/db/descriptions.ts by `npm run describe`; do not edit by hand.",
    "# A dbt source for the contacts-sync mirror. Copy into your dbt project's models/ folder.",
    "# Freshness: synced_at moves only when a contact is written (changed, deleted, restored), so a quiet inbox",
    "# can be fresh and still show an old max(synced_at); the thresholds are generous for that reason.",
    "version: 2",
    "",
    "sources:",
    "  - name: contacts_sync",
    `    description: ${q("BotPenguin inbox contacts mirrored by contacts-sync (see docs/sql.md).")}`,
    `    schema: "{{ env_var('CONTACTS_SYNC_SCHEMA', 'contacts_sync') }}"`,
    "    freshness:",
    "      warn_after: {count: 24, period: hour}",
    "      error_after: {count: 72, period: hour}",
    "    tables:",
  ];
  for (const [name, relation] of Object.entries(DESCRIPTIONS)) {
    lines.push(`      - name: ${name}`);
    lines.push(`        description: ${q(relationComment(relation))}`);
    if (relation.loadedAt) lines.push(`        loaded_at_field: ${relation.loadedAt}`);
    else lines.push("        freshness: null");
    lines.push("        columns:");
    for (const [column, doc] of Object.entries(relation.columns)) {
      lines.push(`          - name: ${column}`);
      lines.push(`            description: ${q(columnComment(doc))}`);
      lines.push(`            data_type: ${doc.type}`);
    }
  }
  return `${lines.join("\n")}\n`;
}
