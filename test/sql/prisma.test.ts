// prisma/schema.prisma tells the truth: every table, view, column (type, nullability), primary key and index
// (method, partial predicate) it declares is what the migrations create, and nothing the migrations create
// is missing from it. Read with introspection SQL and a small reader of the schema file: no Prisma engine.
// Also: the mapping's row type comes from the Prisma model, so a misspelt column does not compile.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDatabase, type TestDatabase } from "../helpers/db.js";
import { pgTypeOf, readSchema, type SchemaBlock } from "../helpers/prismaSchema.js";

const SCHEMA_PATH = new URL("../../prisma/schema.prisma", import.meta.url);
const schemaText = readFileSync(SCHEMA_PATH, "utf8");

interface Catalog {
  relations: { name: string; kind: "r" | "v" }[];
  columns: { relation: string; column: string; type: string; notnull: boolean }[];
  indexes: { relation: string; name: string; primary: boolean; method: string; columns: string[]; predicate: string | null }[];
}

let db: TestDatabase;
let catalog: Catalog;

beforeAll(async () => {
  db = await createDatabase();
  const relations = await db.pool.query(
    `SELECT relname AS name, relkind::text AS kind FROM pg_class
     WHERE relnamespace = current_schema()::regnamespace AND relkind IN ('r', 'v') AND relname <> '_prisma_migrations'`,
  );
  const columns = await db.pool.query(
    `SELECT c.relname AS relation, a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS notnull
     FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
     WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'v') AND c.relname <> '_prisma_migrations'`,
  );
  const indexes = await db.pool.query(
    `SELECT t.relname AS relation, i.relname AS name, x.indisprimary AS primary, am.amname AS method,
            array(SELECT a.attname FROM unnest(x.indkey) WITH ORDINALITY k(attnum, ord)
                  JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum ORDER BY k.ord)::text[] AS columns,
            pg_get_expr(x.indpred, x.indrelid) AS predicate
     FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid JOIN pg_am am ON am.oid = i.relam
     WHERE t.relnamespace = current_schema()::regnamespace AND t.relname <> '_prisma_migrations'`,
  );
  catalog = { relations: relations.rows, columns: columns.rows, indexes: indexes.rows };
});
afterAll(async () => db?.drop());

const norm = (sql: string | null) => (sql === null ? null : sql.replace(/^\((.*)\)$/s, "$1").replace(/\s+/g, " ").trim().toLowerCase());

/** Every way the schema file and the database differ (empty: none). */
function differences(blocks: SchemaBlock[], db: Catalog): string[] {
  const out: string[] = [];
  const byRelation = new Map(blocks.map((b) => [b.relation, b]));
  for (const r of db.relations) {
    const block = byRelation.get(r.name);
    if (!block) out.push(`${r.kind === "v" ? "view" : "table"} ${r.name} is not in schema.prisma`);
    else if ((block.kind === "view") !== (r.kind === "v")) out.push(`${r.name}: a ${r.kind === "v" ? "view" : "table"}, declared as ${block.kind}`);
  }
  for (const block of blocks) {
    if (!db.relations.some((r) => r.name === block.relation)) {
      out.push(`${block.kind} ${block.name} (${block.relation}) does not exist in the database`);
      continue;
    }
    const columns = db.columns.filter((c) => c.relation === block.relation);
    for (const c of columns) if (!block.fields.some((f) => f.column === c.column)) out.push(`${block.relation}.${c.column} is not in schema.prisma`);
    for (const f of block.fields) {
      const c = columns.find((x) => x.column === f.column);
      if (!c) {
        out.push(`${block.relation}.${f.column} (${block.name}.${f.name}) does not exist in the database`);
        continue;
      }
      if (pgTypeOf(f) !== c.type) out.push(`${block.relation}.${f.column}: ${c.type} in the database, ${pgTypeOf(f)} in schema.prisma`);
      if (block.kind === "model" && !f.optional !== c.notnull) out.push(`${block.relation}.${f.column}: ${c.notnull ? "NOT NULL" : "nullable"} in the database, ${f.optional ? "optional" : "required"} in schema.prisma`);
    }
    if (block.kind === "view") continue;
    const indexes = db.indexes.filter((i) => i.relation === block.relation);
    const primary = indexes.find((i) => i.primary);
    if (JSON.stringify(primary?.columns ?? []) !== JSON.stringify(block.primaryKey)) out.push(`${block.relation}: primary key (${primary?.columns}) in the database, (${block.primaryKey}) in schema.prisma`);
    for (const index of indexes.filter((i) => !i.primary)) {
      const declared = block.indexes.find((i) => (i.name ?? `${block.relation}_${i.columns.join("_")}_idx`) === index.name);
      if (!declared) {
        out.push(`index ${index.name} is not in schema.prisma`);
        continue;
      }
      if (JSON.stringify(declared.columns) !== JSON.stringify(index.columns)) out.push(`index ${index.name}: columns (${index.columns}) in the database, (${declared.columns}) in schema.prisma`);
      if (declared.method !== index.method) out.push(`index ${index.name}: ${index.method} in the database, ${declared.method} in schema.prisma`);
      if (norm(declared.where) !== norm(index.predicate)) out.push(`index ${index.name}: WHERE ${index.predicate} in the database, ${declared.where} in schema.prisma`);
    }
    for (const declared of block.indexes) {
      const name = declared.name ?? `${block.relation}_${declared.columns.join("_")}_idx`;
      if (!indexes.some((i) => i.name === name)) out.push(`index ${name} is declared but does not exist in the database`);
    }
  }
  return out;
}

describe("schema.prisma and the database the migrations create", () => {
  it("agree on every table, view, column, primary key and index", () => {
    const blocks = readSchema(schemaText);
    expect(differences(blocks, catalog)).toEqual([]);
    // The reader did read it all: 7 models (api_profiles and contact_versions included) and 14 views (contact_changes is one), and the partial index with its predicate.
    expect([blocks.filter((b) => b.kind === "model").length, blocks.filter((b) => b.kind === "view").length]).toEqual([7, 14]);
    expect(blocks.find((b) => b.name === "Contact")!.indexes.find((i) => i.name === "contacts_deleted_idx")!.where).toBe("deleted_at IS NOT NULL");
  });

  it.each([
    ["a misspelt column", ['@map("phone_e164")', '@map("phone_e165")'], ["contacts.phone_e164 is not in schema.prisma", "contacts.phone_e165 (Contact.phoneE164) does not exist in the database", "index contacts_phone_e164_idx: columns (phone_e164) in the database, (phone_e165) in schema.prisma"]],
    ["a wrong type", ["websiteVisits     Int?", "websiteVisits     BigInt?"], ["contacts.website_visits: integer in the database, bigint in schema.prisma"]],
    ["a wrong nullability", ["country           String?", "country           String"], ["contacts.country: nullable in the database, required in schema.prisma"]],
    ["a forgotten partial predicate", [', where: raw("deleted_at IS NOT NULL")', ""], ["index contacts_deleted_idx: WHERE (deleted_at IS NOT NULL) in the database, null in schema.prisma"]],
    ["a missing index", ['  @@index([syncedAt], map: "contacts_synced_at_idx")\n', ""], ["index contacts_synced_at_idx is not in schema.prisma"]],
    ["a missing view", [/view ContactsByTag \{[\s\S]*?\n\}\n/, ""], ["view contacts_by_tag is not in schema.prisma"]],
    ["a view column of the wrong type", ["contacts Int?\n\n  @@unique([account, tag])", "contacts BigInt?\n\n  @@unique([account, tag])"], ["contacts_by_tag.contacts: integer in the database, bigint in schema.prisma"]],
  ] as [string, [string | RegExp, string], string[]][])("finds a planted drift: %s", (_what, [from, to], expected) => {
    const planted = schemaText.replace(from, to);
    expect(planted).not.toBe(schemaText);
    expect(differences(readSchema(planted), catalog)).toEqual(expected);
  });

  it("names every column of contacts as the snake_case of its Prisma field (what ContactRow's type relies on)", () => {
    const contact = readSchema(schemaText).find((b) => b.name === "Contact")!;
    const snake = (s: string) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    expect(contact.fields.filter((f) => f.column !== snake(f.name)).map((f) => f.name)).toEqual([]);
  });
});

describe("the mapping's row type comes from the Prisma model", () => {
  const dir = mkdtempSync(join(tmpdir(), "contacts-sync-types-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const mapping = new URL("../../src/records/mapContact.ts", import.meta.url).pathname.replace(/\.ts$/, ".js");

  function compile(source: string): string[] {
    const file = join(dir, `check${Math.random().toString(36).slice(2)}.ts`);
    writeFileSync(file, source);
    const program = ts.createProgram([file], {
      target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext,
      strict: true, noEmit: true, skipLibCheck: true, types: [],
    });
    return ts.getPreEmitDiagnostics(program).filter((d) => d.file?.fileName === file).map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));
  }

  it("accepts the real columns and refuses a misspelt one, in the column list and in a row", () => {
    const header = `import type { ColumnSpec, ContactRow } from ${JSON.stringify(mapping)};\n`;
    expect(compile(`${header}export const ok: ColumnSpec = { column: "phone_e164", pgType: "text" };\n`)).toEqual([]);
    expect(compile(`${header}export const bad: ColumnSpec = { column: "phone_e146", pgType: "text" };\n`).join("\n")).toMatch(/"phone_e146"' is not assignable/);
    expect(compile(`${header}export const row = (r: ContactRow) => r.is_importd;\n`).join("\n")).toMatch(/Property 'is_importd' does not exist/);
  }, 120_000);
});
