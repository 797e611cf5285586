// Where PostgreSQL's time goes in the page upsert: the product's statement (src/db/sql/upsertContacts.ts) next
// to statements that do part of its work, each run over the same pages (one statement per page, as the sync
// does) on a fresh migrated database, measured as the server's CPU seconds per row. An analysis tool for
// docs/benchmarks.md, not part of `npm run bench`:
//
//   npx tsx bench/upsertParts.ts [--contacts 50000] [--page-size 100]
//
// The partial statements copy the product's shape (columns from CONTACT_COLUMNS, the same ON CONFLICT clause);
// if the product's statement changes, compare its row with theirs rather than trusting old differences.
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import pg from "pg";
import type { RawContact } from "../src/api/response.js";
import { upsertPage } from "../src/db/sql/upsertContacts.js";
import { generateContacts } from "../src/double/generate.js";
import { CONTACT_COLUMNS, mapContact, mapPage, type ContactRow } from "../src/records/mapContact.js";
import { postgresCpuSeconds } from "./cpu.js";
import { startServer } from "./postgres.js";

const { values } = parseArgs({ options: { contacts: { type: "string" }, "page-size": { type: "string" } } });
const contacts = Number(values.contacts ?? 50_000);
const pageSize = Number(values["page-size"] ?? 100);

const rows = generateContacts(contacts, { seed: 1 })
  .filter((c) => c.isContact && c.status !== "DELETED" && c.lastSeenAt !== null)
  .map((c) => mapContact(c as unknown as RawContact))
  // The engine writes each page in id order (concurrent lanes must not deadlock); do the same.
  .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
const pages: ContactRow[][] = [];
for (let i = 0; i < rows.length; i += pageSize) pages.push(rows.slice(i, i + pageSize));
const texts = pages.map((p) => JSON.stringify(p));
const mappedPages = pages.map((p) => mapPage(p.map((r) => r.raw as RawContact)));

const recordType = ["id text", ...CONTACT_COLUMNS.map((c) => `"${c.column}" ${c.pgType}`)].join(", ");
const columns = CONTACT_COLUMNS.map((c) => `"${c.column}"`).join(", ");
const setColumns = CONTACT_COLUMNS.map((c) => `"${c.column}" = EXCLUDED."${c.column}"`).join(", ");
const source = `jsonb_to_recordset($2::jsonb) AS x(${recordType})`;
const insert = `INSERT INTO contacts (account, id, ${columns}, synced_at, deleted_at) SELECT $1, id, ${columns}, now(), NULL FROM ${source}`;
const onConflict = `ON CONFLICT (account, id) DO UPDATE SET ${setColumns}, synced_at = EXCLUDED.synced_at, deleted_at = NULL
  WHERE contacts.raw IS DISTINCT FROM EXCLUDED.raw OR contacts.deleted_at IS NOT NULL`;

type Step = (client: pg.Client, page: number) => Promise<unknown>;
const statement = (sql: string): Step => (client, page) => client.query(sql, ["default", texts[page]]);
const product: Step = (client, page) => upsertPage(client, "default", mappedPages[page]!);

interface Variant {
  name: string;
  step: Step;
  triggers: boolean;
  /** Run the product's upsert over every page first (the table already holds the same contacts). */
  prefill?: boolean;
  /** SQL run on the fresh database first (a candidate index, say). */
  setup?: string;
}

const variants: Variant[] = [
  { name: "parse only: `SELECT count(*) FROM jsonb_to_recordset(...)`", step: statement(`SELECT count(*) FROM ${source} WHERE $1::text IS NOT NULL`), triggers: false },
  { name: "plain `INSERT ... SELECT` from jsonb_to_recordset", step: statement(insert), triggers: false },
  { name: "`INSERT ... ON CONFLICT DO UPDATE ... WHERE raw IS DISTINCT` (no CTEs, no RETURNING)", step: statement(`${insert} ${onConflict}`), triggers: false },
  { name: "the product's upsert (typed arrays through `unnest`; CTEs: `was_deleted` join, RETURNING counts)", step: product, triggers: false },
  {
    name: "the product's upsert, plus a partial index `(account, id) WHERE deleted_at IS NOT NULL` (a candidate fix for the join)",
    step: product, triggers: false, setup: "CREATE INDEX contacts_deleted_idx ON contacts (account, id) WHERE deleted_at IS NOT NULL",
  },
  { name: "the product's upsert, with the migrations' triggers on `contacts`", step: product, triggers: true },
  { name: "the product's upsert again, nothing changed (triggers on)", step: product, triggers: true, prefill: true },
];

const server = await startServer();
try {
  console.log(`${rows.length} contacts in ${pages.length} pages of ${pageSize}; PostgreSQL ${server.version}\n`);
  console.log("| statement, one per page | PostgreSQL CPU per row | wall |");
  console.log("|---|--:|--:|");
  for (const v of variants) {
    const url = await server.createDatabase("parts");
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      if (!v.triggers) await client.query("ALTER TABLE contacts DISABLE TRIGGER USER");
      if (v.setup) await client.query(v.setup);
      if (v.prefill) for (let i = 0; i < pages.length; i++) await product(client, i);
      const cpuBefore = postgresCpuSeconds(server.postmasterPid);
      const started = performance.now();
      for (let i = 0; i < pages.length; i++) await v.step(client, i);
      const wallMs = performance.now() - started;
      const cpuAfter = postgresCpuSeconds(server.postmasterPid);
      const perRow = cpuBefore === null || cpuAfter === null ? "–" : `${Math.round(((cpuAfter - cpuBefore) / rows.length) * 1e6)} µs`;
      console.log(`| ${v.name} | ${perRow} | ${(wallMs / 1000).toFixed(1)} s |`);
    } finally {
      await client.end();
      await server.dropDatabase(url);
    }
  }
} finally {
  await server.stop();
}
