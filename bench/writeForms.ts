// Which form of the page write is fastest, measured side by side on the same pages (one transaction per
// page, as the sink writes them), each on a fresh migrated database: the client's CPU (mapping, serialising,
// the driver) and the server's CPU per contact, and the wall time. An analysis tool for docs/benchmarks.md
// ("Write path"), not part of `npm run bench`:
//
//   npx tsx bench/writeForms.ts [--contacts 50000] [--page-size 100]
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import pg from "pg";
import type { RawContact } from "../src/api/response.js";
import { openDatabase } from "../src/db/client.js";
import { upsertPage, writePage } from "../src/db/sql/upsertContacts.js";
import { generateContacts } from "../src/double/generate.js";
import { CONTACT_COLUMNS, mapContact, mapPage } from "../src/records/mapContact.js";
import { postgresCpuSeconds } from "./cpu.js";
import { startServer } from "./postgres.js";

const { values } = parseArgs({ options: { contacts: { type: "string" }, "page-size": { type: "string" } } });
const contacts = Number(values.contacts ?? 50_000);
const pageSize = Number(values["page-size"] ?? 100);

const listed = generateContacts(contacts, { seed: 1 }).filter((c) => c.isContact && c.status !== "DELETED" && c.lastSeenAt !== null) as unknown as RawContact[];
// The pages as the API would send them: parsed from JSON text, so each form starts from fresh objects.
const pageTexts: string[] = [];
for (let i = 0; i < listed.length; i += pageSize) pageTexts.push(JSON.stringify(listed.slice(i, i + pageSize)));

// The statement before this change (jsonb_to_recordset over one jsonb parameter), for forms A and B.
const columns = CONTACT_COLUMNS.map((c) => `"${c.column}"`);
const recordType = ["id text", ...CONTACT_COLUMNS.map((c) => `"${c.column}" ${c.pgType}`)].join(", ");
const JSONB_SQL = `
WITH input AS (SELECT * FROM jsonb_to_recordset($2::jsonb) AS x(${recordType})),
run AS (SELECT $3::bigint AS id),
was_deleted AS (SELECT c.id FROM contacts c JOIN input i ON c.account = $1 AND c.id = i.id WHERE c.deleted_at IS NOT NULL),
written AS (
  INSERT INTO contacts (account, id, ${columns.join(", ")}, synced_at, sync_run_id, deleted_at)
  SELECT $1, id, ${columns.join(", ")}, now(), (SELECT id FROM run), NULL FROM input
  ON CONFLICT (account, id) DO UPDATE SET ${columns.map((c) => `${c} = EXCLUDED.${c}`).join(", ")},
    synced_at = EXCLUDED.synced_at, sync_run_id = EXCLUDED.sync_run_id, deleted_at = NULL
  WHERE contacts.raw IS DISTINCT FROM EXCLUDED.raw OR contacts.deleted_at IS NOT NULL
  RETURNING (xmax = 0) AS inserted)
SELECT (SELECT count(*) FROM written WHERE inserted)::int AS inserted, (SELECT count(*) FROM written WHERE NOT inserted)::int AS updated,
  (SELECT count(*) FROM was_deleted)::int AS restored`;

const sortById = (rows: RawContact[]) => rows.sort((a, b) => (a._id < b._id ? -1 : a._id > b._id ? 1 : 0));

interface Form {
  name: string;
  write(db: ReturnType<typeof openDatabase>, page: RawContact[]): Promise<unknown>;
}

const forms: Form[] = [
  {
    name: "A. Prisma `$queryRawUnsafe`, the page as one jsonb parameter (before)",
    write: (db, page) => db.prisma.$transaction((tx) => tx.$queryRawUnsafe(JSONB_SQL, "default", JSON.stringify(sortById(page).map(mapContact)), 1n)),
  },
  {
    name: "B. pg, the same statement and jsonb parameter (no ORM)",
    write: async (db, page) => {
      const text = JSON.stringify(sortById(page).map(mapContact));
      const client = await db.pool.connect();
      try {
        await client.query("BEGIN");
        await client.query(JSONB_SQL, ["default", text, "1"]);
        await client.query("COMMIT");
      } finally {
        client.release();
      }
    },
  },
  {
    name: "C. pg, one typed array per column through `unnest`, raw and attributes as one JSON array text each, prepared; in a transaction with the page's bookkeeping as statements of their own (BEGIN, page, checkpoint, run figures, COMMIT: the form before)",
    write: async (db, page) => {
      const mapped = mapPage(page);
      const client = await db.pool.connect();
      try {
        await client.query("BEGIN");
        await upsertPage(client, "default", mapped, 1n);
        await client.query(
          `INSERT INTO sync_checkpoints (account, kind, cursor, cursor_order, page_size, updated_at) VALUES ($1, 'incremental', $2, 'lastSeenAt desc', 100, now())
           ON CONFLICT (account, kind) DO UPDATE SET cursor = EXCLUDED.cursor, cursor_order = EXCLUDED.cursor_order, page_size = EXCLUDED.page_size, updated_at = EXCLUDED.updated_at`,
          ["default", new Date()],
        );
        await client.query(`UPDATE sync_runs SET pages = pages + 1, received = received + $2 WHERE id = $1`, ["1", page.length]);
        await client.query("COMMIT");
      } finally {
        client.release();
      }
    },
  },
  {
    name: "D. as C, the page and its bookkeeping in one statement (data-modifying CTEs; the product)",
    write: (db, page) =>
      writePage(db.pool, "default", mapPage(page), 1n, {
        cursor: { kind: "incremental", cursor: new Date(), order: "lastSeenAt desc", pageSize: 100 },
        figures: { received: page.length, requests: 1, retries: 0 },
      }),
  },
];

const server = await startServer();
try {
  console.log(`${listed.length} contacts in ${pageTexts.length} pages of ${pageSize}; PostgreSQL ${server.version}; first write (inserts), then the same pages again (nothing changed)\n`);
  console.log("| form | client CPU per contact | PostgreSQL CPU per contact | wall | unchanged again: client / PostgreSQL CPU per contact |");
  console.log("|---|--:|--:|--:|--:|");
  for (const form of forms) {
    const url = await server.createDatabase("forms");
    const db = openDatabase(url, { poolSize: 1 });
    try {
      await db.pool.query("INSERT INTO sync_runs (id, account, kind) VALUES (1, 'default', 'incremental')");
      const pass = async () => {
        const pgBefore = postgresCpuSeconds(server.postmasterPid);
        const cpuBefore = process.cpuUsage();
        const started = performance.now();
        for (const text of pageTexts) await form.write(db, JSON.parse(text) as RawContact[]);
        const wallMs = performance.now() - started;
        const cpu = process.cpuUsage(cpuBefore);
        const pgAfter = postgresCpuSeconds(server.postmasterPid);
        return {
          wallMs,
          client: ((cpu.user + cpu.system) / listed.length),
          server: pgBefore === null || pgAfter === null ? null : ((pgAfter - pgBefore) / listed.length) * 1e6,
        };
      };
      // Parsing the pages' JSON is the same for every form and is in the client figure.
      const first = await pass();
      const again = await pass();
      const { rows: [{ n }] } = await db.pool.query(`SELECT count(*)::int AS n FROM contacts`);
      if (n !== listed.length) throw new Error(`${form.name}: ${n} rows, expected ${listed.length}`);
      const us = (v: number | null) => (v === null ? "–" : `${Math.round(v)} µs`);
      console.log(`| ${form.name} | ${us(first.client)} | ${us(first.server)} | ${(first.wallMs / 1000).toFixed(1)} s | ${us(again.client)} / ${us(again.server)} |`);
    } finally {
      await db.close();
      await server.dropDatabase(url);
    }
  }
} finally {
  await server.stop();
}
