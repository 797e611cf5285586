// A database that describes itself: every column of contacts and every view (with its columns) carries the
// description of src/db/descriptions.ts in pg_description, and docs/sql.md's column tables, the comments
// migration and docs/dbt/sources.yml are exactly what the descriptions generate. Any drift fails here.
import { readFileSync, readdirSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { MIGRATIONS_DIR } from "../../src/db/migrate.js";
import { GENERATED_MARK, columnComment, commentsSql, relationComment, renderSqlDoc, sourcesYml } from "../../src/db/describe.js";
import { DESCRIPTIONS, type RelationDoc } from "../../src/db/descriptions.js";
import { createDatabase, type TestDatabase } from "../helpers/db.js";

let db: TestDatabase;
beforeAll(async () => {
  db = await createDatabase();
});
afterAll(async () => db?.drop());

interface CatalogColumn { relation: string; kind: string; column: string | null; type: string | null; comment: string | null }

/** Tables and views of the mirror's schema with their comments, columns, types and column comments. */
async function catalog(): Promise<CatalogColumn[]> {
  const { rows } = await db.pool.query<CatalogColumn>(`
    SELECT c.relname AS relation, c.relkind::text AS kind, NULL AS column, NULL AS type, obj_description(c.oid, 'pg_class') AS comment
    FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'v')
    UNION ALL
    SELECT c.relname, c.relkind::text, a.attname, format_type(a.atttypid, a.atttypmod), col_description(c.oid, a.attnum)
    FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'v')`);
  return rows;
}

const docType = (pgType: string) => pgType.replace("timestamp(3) with time zone", "timestamptz");

/** Every way the database differs from the descriptions (empty: none). */
function drift(rows: CatalogColumn[], descriptions: Record<string, RelationDoc>): string[] {
  const problems: string[] = [];
  const views = new Set(rows.filter((r) => r.kind === "v").map((r) => r.relation));
  for (const view of views) if (!descriptions[view]) problems.push(`view ${view} has no description`);
  for (const row of rows) {
    const relation = descriptions[row.relation];
    if (!relation) continue;
    if (row.column === null) {
      if (row.comment !== relationComment(relation)) problems.push(`${row.relation}: comment ${JSON.stringify(row.comment)}`);
      continue;
    }
    const doc = relation.columns[row.column];
    if (!doc) problems.push(`${row.relation}.${row.column} has no description`);
    else {
      if (row.comment !== columnComment(doc)) problems.push(`${row.relation}.${row.column}: comment ${JSON.stringify(row.comment)}, described ${JSON.stringify(columnComment(doc))}`);
      if (docType(row.type!) !== doc.type) problems.push(`${row.relation}.${row.column}: type ${row.type}, described ${doc.type}`);
    }
  }
  for (const [name, relation] of Object.entries(descriptions)) {
    for (const column of Object.keys(relation.columns)) {
      if (!rows.some((r) => r.relation === name && r.column === column)) problems.push(`${name}.${column} is described but does not exist`);
    }
  }
  return problems;
}

describe("a database that describes itself", () => {
  it("every column of contacts and every view and its columns has the described comment and type", async () => {
    const rows = await catalog();
    expect(drift(rows, DESCRIPTIONS)).toEqual([]);
    const uncommented = rows.filter((r) => (r.relation === "contacts" || r.kind === "v") && !r.comment);
    expect(uncommented).toEqual([]);
    expect(rows.filter((r) => r.kind === "v" && r.column === null).length).toBe(14);
  });

  it("a planted drift is found: a changed meaning, a column nobody described, a described column that is gone", async () => {
    const rows = await catalog();
    const planted = structuredClone(DESCRIPTIONS);
    planted.contacts!.columns.phone_e164 = { ...planted.contacts!.columns.phone_e164!, meaning: "something else" };
    delete planted.contacts!.columns.phone_type;
    planted.contacts_by_tag!.columns.colour = { type: "text", meaning: "no such column" };
    const found = drift(rows, planted);
    expect(found).toHaveLength(3);
    expect(found).toEqual(expect.arrayContaining([
      expect.stringMatching(/^contacts\.phone_e164: comment/),
      "contacts.phone_type has no description",
      "contacts_by_tag.colour is described but does not exist",
    ]));
  });

  it("docs/sql.md's column tables are the generated ones", () => {
    const doc = readFileSync(new URL("../../docs/sql.md", import.meta.url), "utf8");
    expect(renderSqlDoc(doc)).toBe(doc);
    const drifted = doc.replace("| `phone_type` | text |", "| `phone_type` | varchar |");
    expect(renderSqlDoc(drifted)).not.toBe(drifted);
  });

  it("the latest comments migration is the generated one", () => {
    const generated = readdirSync(MIGRATIONS_DIR)
      .sort()
      .map((name) => { try { return readFileSync(`${MIGRATIONS_DIR}/${name}/migration.sql`, "utf8"); } catch { return ""; } })
      .filter((sql) => sql.includes(GENERATED_MARK));
    expect(generated.at(-1)).toBe(commentsSql());
  });

  it("docs/dbt/sources.yml is the generated one, a dbt source with loaded_at_field and freshness", () => {
    const text = readFileSync(new URL("../../docs/dbt/sources.yml", import.meta.url), "utf8");
    expect(text).toBe(sourcesYml());
    const yml = parse(text);
    const source = yml.sources[0];
    expect(source.freshness.warn_after).toEqual({ count: 24, period: "hour" });
    const tables = Object.fromEntries(source.tables.map((t: { name: string }) => [t.name, t]));
    expect(Object.keys(tables).sort()).toEqual(Object.keys(DESCRIPTIONS).sort());
    expect(tables.contacts.loaded_at_field).toBe("synced_at");
    expect(tables.contact_changes.loaded_at_field).toBe("seen_at");
    expect(tables.contacts.columns.map((c: { name: string }) => c.name)).toEqual(Object.keys(DESCRIPTIONS.contacts!.columns));
    expect(tables.contacts.columns.find((c: { name: string }) => c.name === "phone_e164").description).toBe(columnComment(DESCRIPTIONS.contacts!.columns.phone_e164!));
  });
});
