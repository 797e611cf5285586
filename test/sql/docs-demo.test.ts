// docs/sql.md says how to run its examples on the demo account: this does exactly that. It runs the demo
// (twice, the second time with its reconcile, so there are changes and deletions), then every example with
// an answer, with 'default' replaced by 'demo' as the page says, and checks each runs and finds demo data.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { demo } from "../../src/commands/demo.js";
import { createDatabase, type TestDatabase } from "../helpers/db.js";
import { quietLogger } from "../helpers/logs.js";

const doc = readFileSync(new URL("../../docs/sql.md", import.meta.url), "utf8");

/** The ```sql blocks followed by an answer table: the example queries. */
function examples(markdown: string): { line: number; sql: string; header: string[] }[] {
  const lines = markdown.split("\n");
  const out: { line: number; sql: string; header: string[] }[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.trim() !== "```sql") continue;
    const start = i + 1;
    const body: string[] = [];
    for (i++; i < lines.length && lines[i]!.trim() !== "```"; i++) body.push(lines[i]!);
    let j = i + 1;
    while (j < lines.length && lines[j]!.trim() === "") j++;
    if (lines[j]?.trim().startsWith("|")) {
      const header = lines[j]!.trim().replace(/^\|/, "").replace(/\|$/, "").split("|").map((c) => c.trim());
      out.push({ line: start, sql: body.join("\n"), header });
    }
  }
  return out;
}

const section = doc.slice(doc.indexOf("### Trying the examples on the demo account"));
const queries = examples(doc).filter((q) => q.sql.includes("'default'"));
let db: TestDatabase;
let dir: string;
const answered: number[] = [];

beforeAll(async () => {
  db = await createDatabase({ migrate: false });
  dir = mkdtempSync(join(tmpdir(), "contacts-sync-demo-docs-"));
  const config = loadConfig({ DATABASE_URL: db.url, CONTACTS_SYNC_DATA_DIR: dir }, { needToken: false });
  await demo(config, quietLogger(), { contacts: 1500, quiet: true });
  await demo(config, quietLogger(), { reconcile: true, quiet: true });
}, 120_000);

afterAll(async () => {
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("docs/sql.md on the demo account", () => {
  it("says to replace 'default' by 'demo', and its worked example is the first query so replaced", () => {
    expect(section).toMatch(/with `'default'` replaced by `'demo'`/);
    const worked = /e\.g\. for the first one:\n\s+`([^`]+)`/.exec(section)![1]!;
    const first = examples(doc)[0]!.sql.replaceAll("'default'", "'demo'");
    expect(worked).toBe(first.replace(/\s+/g, " ").trim());
  });

  it.each(queries.map((q) => [q.line, q] as const))("the example at line %i runs on the demo data", async (_line, q) => {
    const result = await db.pool.query(q.sql.replaceAll("'default'", "'demo'"));
    expect(result.fields.map((f) => f.name)).toEqual(q.header);
    if ((result.rowCount ?? 0) > 0) answered.push(q.line);
  });

  it("finds demo data with most of them (a few depend on which random edits the demo made)", () => {
    expect(queries.length).toBeGreaterThanOrEqual(10);
    expect(answered.length).toBeGreaterThanOrEqual(queries.length - 3);
  });
});
