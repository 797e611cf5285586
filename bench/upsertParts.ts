// Where PostgreSQL's time goes in the page write: the product's statement (src/db/sql/upsertContacts.ts) next
// to statements that do part of its work, and to the other forms a page write could take (a COPY into a
// staging table then one INSERT ... ON CONFLICT, as dlt's and Airbyte's Postgres destinations do; a COPY
// straight into `contacts`), each run over the same pages (one transaction per page, as the sync commits
// them) on a fresh migrated database, measured as the server's CPU seconds per row. An analysis tool for
// docs/benchmarks.md, not part of `npm run bench`:
//
//   npx tsx bench/upsertParts.ts [--contacts 50000] [--page-size 100] [--rounds 1] [--connections 1]
//
// `--connections 1,2,4` also runs the shipped page statement over that many connections at once (each takes
// the next page), as the sync's lanes commit: whether PostgreSQL's work per row depends on how many page
// statements run at a time.
//
// The partial statements copy the product's shape (columns from CONTACT_COLUMNS, the same ON CONFLICT clause);
// if the product's statement changes, compare its row with theirs rather than trusting old differences.
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import pg from "pg";
import type { RawContact } from "../src/api/response.js";
import { upsertPage, writePage } from "../src/db/sql/upsertContacts.js";
import { generateContacts } from "../src/double/generate.js";
import { CONTACT_COLUMNS, mapContact, mapPage, type ContactRow } from "../src/records/mapContact.js";
import { copyDir, COPY_COLUMN_LIST, copyFromFileSql, writeCopyFile } from "./copy.js";
import { postgresCpuSeconds } from "./cpu.js";
import { startServer } from "./postgres.js";
import { median } from "./report.js";

const { values } = parseArgs({ options: { contacts: { type: "string" }, "page-size": { type: "string" }, rounds: { type: "string" }, connections: { type: "string" } } });
const contacts = Number(values.contacts ?? 50_000);
// The variants run in turn, this many times over (the machine's speed drifts: compare medians of interleaved runs).
const rounds = Number(values.rounds ?? 1);
const pageSize = Number(values["page-size"] ?? 100);
const connections = (values.connections ?? "1").split(",").map(Number);
if (connections.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--connections: expected whole numbers >= 1, got "${values.connections}"`);

const rows = generateContacts(contacts, { seed: 1 })
  .filter((c) => c.isContact && c.status !== "DELETED" && c.lastSeenAt !== null)
  .map((c) => mapContact(c as unknown as RawContact))
  // The engine writes each page in id order (concurrent lanes must not deadlock); do the same.
  .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
const pages: ContactRow[][] = [];
for (let i = 0; i < rows.length; i += pageSize) pages.push(rows.slice(i, i + pageSize));
const texts = pages.map((p) => JSON.stringify(p));
const mappedPages = pages.map((p) => mapPage(p.map((r) => r.raw as RawContact)));
// Each page as the API sends it: the sink takes `raw` from these bytes (ContactPage.rawFrom).
const answers = pages.map((p) => Buffer.from(JSON.stringify({ success: true, data: p.map((r) => r.raw) })));

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
// As the sink writes a page: parsed from the answer's bytes, raw taken from them, with the checkpoint and the
// run's figures in the same statement.
const asShipped: Step = (client, page) => {
  const rows = (JSON.parse(answers[page]!.toString()) as { data: RawContact[] }).data;
  return writePage(client, "default", mapPage(rows, { json: answers[page]!, rows }), 1n, {
    cursor: { kind: "incremental", cursor: new Date(), order: "lastSeenAt desc", pageSize },
    figures: { received: rows.length, requests: 1, retries: 0 },
  });
};
// The COPY forms read each page from a file the server reads itself (COPY FROM a file, the server's side of
// COPY FROM STDIN without the socket): only the server's CPU is compared here.
let pageFiles: string[] = [];
const copyInto = (table: string, client: pg.Client, page: number) => client.query(copyFromFileSql(table, pageFiles[page]!));
const staged: Step = async (client, page) => {
  await client.query("BEGIN");
  await copyInto("staging", client, page);
  await client.query(`INSERT INTO contacts (${COPY_COLUMN_LIST}) SELECT ${COPY_COLUMN_LIST} FROM staging ORDER BY id ${onConflict}`);
  await client.query("COMMIT");
};

interface Variant {
  name: string;
  step: Step;
  triggers: boolean;
  /** Run the product's upsert over every page first (the table already holds the same contacts). */
  prefill?: boolean;
  /** SQL run on the fresh database first (a candidate index, say). */
  setup?: string;
  /** Reads the pages from files on the server (embedded server only). */
  files?: boolean;
  /** Connections writing pages at once, each taking the next page (default 1). */
  connections?: number;
}

const variants: Variant[] = [
  { name: "parse only: `SELECT count(*) FROM jsonb_to_recordset(...)` (the page as one jsonb, the form before issue 10)", step: statement(`SELECT count(*) FROM ${source} WHERE $1::text IS NOT NULL`), triggers: false },
  { name: "plain `INSERT ... SELECT` from jsonb_to_recordset", step: statement(insert), triggers: false },
  { name: "`INSERT ... ON CONFLICT DO UPDATE ... WHERE raw IS DISTINCT` from jsonb_to_recordset (no CTEs, no RETURNING)", step: statement(`${insert} ${onConflict}`), triggers: false },
  { name: "the product's upsert alone (typed arrays through `unnest`, raw as one JSON array text; CTEs: `was_deleted`, RETURNING counts)", step: product, triggers: true },
  { name: "the product's page statement as the sink sends it (raw from the answer's bytes; checkpoint and run figures in the same statement)", step: asShipped, triggers: true },
  {
    name: "`COPY` of the page into a temporary staging table, then one `INSERT ... SELECT ... ON CONFLICT` from it, in a transaction (dlt's and Airbyte's form; no bookkeeping)",
    step: staged, triggers: true, files: true, setup: "CREATE TEMP TABLE staging (LIKE contacts INCLUDING DEFAULTS) ON COMMIT DELETE ROWS",
  },
  { name: "`COPY` of the page straight into `contacts` (no conflict handling, no bookkeeping: the ceiling's work, a page at a time)", step: (client, page) => copyInto("contacts", client, page), triggers: false, files: true },
  { name: "the product's page statement again, nothing changed", step: asShipped, triggers: true, prefill: true },
  ...connections.filter((n) => n > 1).map((n): Variant => ({ name: `the product's page statement as the sink sends it, ${n} connections at once`, step: asShipped, triggers: true, connections: n })),
];

const server = await startServer();
const files = server.dir === undefined ? null : copyDir(server.dir);
try {
  if (files) {
    pageFiles = await Promise.all(pages.map(async (p, i) => {
      const file = `${files.dir}/page-${i}.csv`;
      await writeCopyFile(p.map((r) => r.raw) as never, file);
      return file;
    }));
  }
  console.log(`${rows.length} contacts in ${pages.length} pages of ${pageSize}; PostgreSQL ${server.version}\n`);
  const measured = new Map<Variant, { cpu: number[]; wallMs: number[] }>(variants.map((v) => [v, { cpu: [], wallMs: [] }]));
  for (let round = 0; round < rounds; round++) {
    for (const v of variants) {
      if (v.files && !files) continue;
      const url = await server.createDatabase("parts");
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      // Connections beside `client` for a variant with several (ended in `finally`, before the database is dropped).
      const others: pg.Client[] = [];
      try {
        await client.query("INSERT INTO sync_runs (id, account, kind) VALUES (1, 'default', 'incremental')");
        if (!v.triggers) await client.query("ALTER TABLE contacts DISABLE TRIGGER USER");
        if (v.setup) await client.query(v.setup);
        if (v.prefill) for (let i = 0; i < pages.length; i++) await v.step(client, i);
        const cpuBefore = postgresCpuSeconds(server.postmasterPid);
        for (let k = 1; k < (v.connections ?? 1); k++) {
          const other = new pg.Client({ connectionString: url });
          others.push(other);
          await other.connect();
        }
        const started = performance.now();
        let next = 0;
        await Promise.all([client, ...others].map(async (c) => {
          for (let i = next++; i < pages.length; i = next++) await v.step(c, i);
        }));
        const m = measured.get(v)!;
        m.wallMs.push(performance.now() - started);
        // Before the other connections end: an exited backend's CPU is counted only once the postmaster reaps it.
        const cpuAfter = postgresCpuSeconds(server.postmasterPid);
        if (cpuBefore !== null && cpuAfter !== null) m.cpu.push(((cpuAfter - cpuBefore) / rows.length) * 1e6);
        // A form that writes is compared only if it wrote every contact.
        const written = Number((await client.query("SELECT count(*) AS n FROM contacts")).rows[0].n);
        if (written !== 0 && written !== rows.length) throw new Error(`${v.name}: ${written} rows in contacts, expected ${rows.length}`);
      } finally {
        await Promise.all([client, ...others].map((c) => c.end()));
        await server.dropDatabase(url);
      }
    }
  }
  console.log(`| statement, one per page | PostgreSQL CPU per row (median${rounds > 1 ? `; each of ${rounds} rounds` : ""}) | wall |`);
  console.log("|---|--:|--:|");
  for (const v of variants) {
    const m = measured.get(v)!;
    if (m.wallMs.length === 0) {
      console.log(`| ${v.name} | – (needs the embedded server: it reads the pages from files) | – |`);
      continue;
    }
    const cpu = m.cpu.length === 0 ? "–" : `${Math.round(median(m.cpu))} µs${rounds > 1 ? ` (${m.cpu.map((c) => Math.round(c)).join(", ")})` : ""}`;
    console.log(`| ${v.name} | ${cpu} | ${(median(m.wallMs) / 1000).toFixed(1)} s |`);
  }
} finally {
  files?.remove();
  await server.stop();
}
