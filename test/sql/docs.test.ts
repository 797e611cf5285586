// docs/sql.md must stay true: every ```sql block in it runs against real PostgreSQL, and where a block is
// followed by an answer table, the query must return exactly that table on the crafted data set (values as
// psql prints them; `*` matches anything). It must also document every column and view there is.
import { readFileSync } from "node:fs";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDatabase, type TestDatabase } from "../helpers/db.js";
import { writeCrafted, writeCraftedSecondSync } from "./crafted.js";
import { tick } from "./support.js";

const DOC_PATH = new URL("../../docs/sql.md", import.meta.url);
const doc = readFileSync(DOC_PATH, "utf8");

interface Block {
  line: number;
  sql: string;
  answer: { header: string[]; rows: string[][] } | null;
}

function cells(line: string): string[] {
  return line.trim().replace(/^\|/, "").replace(/\|$/, "").split("|").map((c) => c.trim());
}

/** Every ```sql block, with the markdown table that follows it (before any other text) as its answer. */
function sqlBlocks(markdown: string): Block[] {
  const lines = markdown.split("\n");
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.trim() !== "```sql") continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && lines[i]!.trim() !== "```"; i++) body.push(lines[i]!);
    let j = i + 1;
    while (j < lines.length && lines[j]!.trim() === "") j++;
    let answer: Block["answer"] = null;
    if (lines[j]?.trim().startsWith("|")) {
      const table: string[] = [];
      for (; j < lines.length && lines[j]!.trim().startsWith("|"); j++) table.push(lines[j]!);
      answer = { header: cells(table[0]!), rows: table.slice(2).map(cells) };
    }
    blocks.push({ line: start + 1, sql: body.join("\n"), answer });
  }
  return blocks;
}

const blocks = sqlBlocks(doc);
let db: TestDatabase;
let client: pg.Client;

beforeAll(async () => {
  db = await createDatabase();
  const { now } = await writeCrafted(db);
  await tick(10);
  await writeCraftedSecondSync(db, now);
  // Values exactly as PostgreSQL prints them (what psql shows), in UTC.
  client = new pg.Client({ connectionString: db.url, types: { getTypeParser: () => (value: string) => value }, options: "-c TimeZone=UTC" });
  await client.connect();
});

afterAll(async () => {
  await client?.end();
  await db?.drop();
});

describe("docs/sql.md", () => {
  it("has at least ten example queries with documented answers", () => {
    expect(blocks.filter((b) => b.answer).length).toBeGreaterThanOrEqual(10);
  });

  it.each(blocks.filter((b) => b.answer).map((b) => [b.line, b] as const))("the query at line %i gives its documented answer", async (_line, block) => {
    const result = await client.query(block.sql);
    expect(result.fields.map((f) => f.name)).toEqual(block.answer!.header);
    const actual = result.rows.map((row) => result.fields.map((f) => (row[f.name] === null ? "" : String(row[f.name]))));
    const expected = block.answer!.rows.map((row, r) => row.map((cell, c) => (cell === "*" ? actual[r]?.[c] : cell)));
    expect(actual).toEqual(expected);
  });

  it.each(blocks.filter((b) => !b.answer).map((b) => [b.line, b] as const))("the statements at line %i run (rolled back)", async (_line, block) => {
    await client.query("BEGIN");
    try {
      // The set-up examples refer to the reader role that grant-reader would have created.
      if (block.sql.includes("contacts_reader")) await client.query("CREATE ROLE contacts_reader NOLOGIN");
      await client.query(block.sql);
    } finally {
      await client.query("ROLLBACK");
    }
  });

  it("documents every column of contacts, contact_changes and contact_versions, and every view", async () => {
    const { rows: columns } = await client.query<{ table_name: string; column_name: string }>(
      `SELECT table_name, column_name FROM information_schema.columns
       WHERE table_schema = current_schema() AND table_name IN ('contacts', 'contact_changes', 'contact_versions') ORDER BY table_name, ordinal_position`,
    );
    const contactsSection = doc.slice(doc.indexOf("### `contacts`"), doc.indexOf("### `contact_changes`"));
    const changesSection = doc.slice(doc.indexOf("### `contact_changes`"), doc.indexOf("### `contact_versions`"));
    const versionsSection = doc.slice(doc.indexOf("### `contact_versions`"), doc.indexOf("### `contact_history_state`"));
    const section = { contacts: contactsSection, contact_changes: changesSection, contact_versions: versionsSection } as Record<string, string>;
    expect(columns.filter((c) => c.table_name === "contact_versions").length).toBeGreaterThan(20);
    const missing = columns.filter((c) => !section[c.table_name]!.includes(`\`${c.column_name}\``));
    expect(missing).toEqual([]);
    const { rows: views } = await client.query<{ name: string }>(`SELECT viewname AS name FROM pg_views WHERE schemaname = current_schema()`);
    expect(views.length).toBeGreaterThanOrEqual(13);
    const viewsSection = doc.slice(doc.indexOf("## Views"), doc.indexOf("## History"));
    expect(views.filter((v) => !viewsSection.includes(`| \`${v.name}\` |`))).toEqual([]);
  });
});
