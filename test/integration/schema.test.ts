// The mirror's own schema (issue 12): DATABASE_SCHEMA or ?schema= puts every object of the mirror there and
// nothing of it in public; the reader role reads it but not the bookkeeping; an earlier release's install in
// public is moved on first start, whole, once, leaving another application's objects in public alone.
// The databases here keep PostgreSQL's default search_path ("$user", public): the product sets its own.
import { randomBytes, randomUUID } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import pg from "pg";
import { startApiDouble, type ApiDouble } from "../../src/double/server.js";
import { readMigrations } from "../../src/db/migrate.js";
import { ownObjects } from "../../src/db/schema.js";
import { BOOKKEEPING_TABLES } from "../../src/db/sql/grantReader.js";
import { adminUrl, createDatabase, type TestDatabase } from "../helpers/db.js";
import { cli } from "../helpers/cli.js";
import { source, TOKEN } from "../helpers/sync.js";

let cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function setup(contacts = 120): Promise<{ double: ApiDouble; db: TestDatabase; admin: pg.Client; env: Record<string, string> }> {
  const double = await startApiDouble({ token: TOKEN, contacts, pageSize: 40 });
  const db = await createDatabase({ migrate: false, searchPath: false });
  const admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  cleanup.push(() => double.close(), () => db.drop(), () => admin.end());
  return {
    double,
    db,
    admin,
    env: { INBOX_API_URL: double.url, INBOX_API_TOKEN: TOKEN, DATABASE_URL: db.url, SYNC_LAG: "0", SYNC_START_AT: "2000-01-01", INBOX_RETRIES: "2" },
  };
}

async function ok(args: string[], env: Record<string, string>) {
  const run = await cli(args, env);
  expect(run.code, `${args.join(" ")}: ${run.stderr}`).toBe(0);
  return run;
}

/** Relations (r: table, v: view, m: materialized view, S: sequence), functions and types in `schema`. */
async function objectsIn(client: pg.Client, schema: string): Promise<string[]> {
  const { rows } = await client.query<{ o: string }>(
    `SELECT 'rel:' || relname AS o FROM pg_class WHERE relnamespace = to_regnamespace($1) AND relkind IN ('r', 'v', 'm', 'p')
     UNION ALL SELECT 'fn:' || proname FROM pg_proc WHERE pronamespace = to_regnamespace($1)
     UNION ALL SELECT 'type:' || typname FROM pg_type t WHERE typnamespace = to_regnamespace($1) AND typrelid = 0 AND typelem = 0
       AND NOT EXISTS (SELECT 1 FROM pg_type a WHERE a.typelem = t.oid AND a.typarray = 0)
     ORDER BY 1`,
    [schema],
  );
  return rows.map((r) => r.o);
}

// Sequences are left out on both sides: a serial column's sequence is created implicitly (no statement names
// it), and every sequence of ours is owned by a column and moves with its table; they are checked on their own.
const expectedObjects = () =>
  ownObjects(readMigrations())
    .filter((o) => o.kind !== "sequence")
    .map((o) => (o.kind === "function" ? `fn:${o.name}` : o.kind === "type" ? `type:${o.name}` : `rel:${o.name}`))
    .sort();

/** An application that shares the database and keeps its own things in public. */
async function otherApplication(admin: pg.Client): Promise<void> {
  await admin.query(`
    CREATE TABLE public.orders (id int PRIMARY KEY, note text);
    INSERT INTO public.orders VALUES (1, 'first'), (2, 'second');
    CREATE VIEW public.order_notes AS SELECT note FROM public.orders;
    CREATE FUNCTION public.order_count() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM public.orders';`);
}

/** How the releases before DATABASE_SCHEMA migrated: the files as they are, on the default search_path. */
async function installAsEarlierRelease(admin: pg.Client): Promise<void> {
  await admin.query(`
    CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
      "id" VARCHAR(36) PRIMARY KEY NOT NULL, "checksum" VARCHAR(64) NOT NULL, "finished_at" TIMESTAMPTZ,
      "migration_name" VARCHAR(255) NOT NULL, "logs" TEXT, "rolled_back_at" TIMESTAMPTZ,
      "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(), "applied_steps_count" INTEGER NOT NULL DEFAULT 0)`);
  for (const m of readMigrations()) {
    await admin.query("BEGIN");
    await admin.query(m.sql);
    await admin.query(
      `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, finished_at, applied_steps_count) VALUES ($1, $2, $3, now(), 1)`,
      [randomUUID(), m.checksum, m.name],
    );
    await admin.query("COMMIT");
  }
  expect(await admin.query(`SELECT to_regclass('public.contacts') IS NOT NULL AS ok`)).toMatchObject({ rows: [{ ok: true }] });
}

/** Everything a move must keep, read in `schema`. */
async function snapshot(client: pg.Client, schema: string) {
  const q = async (sql: string) => (await client.query(sql.replaceAll("S.", `"${schema}".`))).rows;
  return {
    contacts: await q(`SELECT count(*)::int AS n, md5(string_agg(c::text, '|' ORDER BY account, id)) AS digest FROM S.contacts c`),
    history: await q(`SELECT kind, count(*)::int AS n, md5(string_agg(h::text, '|' ORDER BY change_id)) AS digest FROM S.contact_changes h GROUP BY kind ORDER BY kind`),
    historySince: await q(`SELECT complete_since FROM S.contact_history_state`),
    checkpoints: await q(`SELECT * FROM S.sync_checkpoints ORDER BY account, kind`),
    runs: await q(`SELECT id, kind, status, inserted, deleted FROM S.sync_runs ORDER BY id`),
    migrations: await q(`SELECT id, checksum, migration_name, finished_at FROM S."_prisma_migrations" WHERE migration_name <> '20250101000000_orders' ORDER BY migration_name`),
    nextRun: await q(`SELECT last_value FROM S.sync_runs_id_seq`),
  };
}

describe("DATABASE_SCHEMA", () => {
  it("puts every object of the mirror in that schema, nothing in public, and a sync works end to end", async () => {
    const { double, admin, env } = await setup();
    await otherApplication(admin);
    const before = await objectsIn(admin, "public");
    const schemaEnv = { ...env, DATABASE_SCHEMA: "analytics" };
    // A status before anything is installed says what to run, and creates nothing.
    const empty = await ok(["status"], schemaEnv);
    expect(empty.stdout).toMatch(/the mirror's tables are not in this database's schema yet \(run `contacts-sync migrate`/);
    expect((await admin.query(`SELECT to_regnamespace('analytics') IS NULL AS none`)).rows[0].none).toBe(true);
    const run = await ok(["sync"], schemaEnv);
    expect(run.stdout).toMatch(/inserted \d+/);

    expect(await objectsIn(admin, "analytics")).toEqual(expectedObjects());
    expect(expectedObjects()).toEqual(expect.arrayContaining(["rel:contacts", "rel:contacts_current", "rel:_prisma_migrations", "fn:contacts_as_of", "fn:contacts_keep_previous_version", "fn:iso", "rel:contact_versions"]));
    expect(await objectsIn(admin, "public")).toEqual(before);
    const sequences = await admin.query<{ schema: string; name: string }>(
      `SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'S' AND n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 2`,
    );
    expect(sequences.rows).toEqual(expect.arrayContaining([{ schema: "analytics", name: "contact_change_id_seq" }, { schema: "analytics", name: "sync_runs_id_seq" }]));
    expect(sequences.rows.filter((r) => r.schema !== "analytics" && r.schema !== "public")).toEqual([]);
    expect((await admin.query(`SELECT to_regnamespace('contacts_sync') IS NULL AS gone`)).rows[0].gone).toBe(true);
    expect((await admin.query(`SELECT to_regclass('contacts') IS NULL AS unseen`)).rows[0].unseen).toBe(true); // not on the default path

    const live = source(double, (c) => c.lastSeenAt != null).size;
    expect((await admin.query(`SELECT count(*)::int AS n FROM analytics.contacts WHERE deleted_at IS NULL`)).rows[0].n).toBe(live);
    // The history triggers (helpers rewritten into analytics) wrote one insert per contact.
    expect((await admin.query(`SELECT count(*)::int AS n FROM analytics.contact_changes WHERE kind = 'insert'`)).rows[0].n).toBe(live);
    expect((await admin.query(`SELECT count(*)::int AS n FROM analytics."_prisma_migrations"`)).rows[0].n).toBe(readMigrations().length);
    // Functions that name tables work from a session on another search_path (an analyst's).
    expect((await admin.query(`SELECT count(*)::int AS n FROM analytics.contacts_as_of(now()) WHERE deleted_at IS NULL`)).rows[0].n).toBe(live);

    // Prisma's model queries (status reads sync_runs through the client) and the reconcile pass, there too.
    const status = JSON.parse((await ok(["status", "--json"], schemaEnv)).stdout);
    expect(status).toMatchObject({ pendingMigrations: [], accounts: [{ account: "default", contacts: { live }, lastRuns: [{ kind: "incremental", status: "succeeded" }] }] });
    const gone = double.store.randomIds(3, (c) => c.lastSeenAt != null);
    for (const id of gone) double.store.delete(id);
    expect((await ok(["reconcile"], schemaEnv)).stdout).toMatch(/marked deleted 3/);
    expect((await admin.query(`SELECT count(*)::int AS n FROM analytics.contact_changes WHERE kind = 'delete'`)).rows[0].n).toBe(3);
    expect(await objectsIn(admin, "public")).toEqual(before);
  }, 180_000);

  it("is read from Prisma's ?schema= in DATABASE_URL; a DATABASE_SCHEMA that disagrees is refused before anything is written", async () => {
    const { admin, env } = await setup(40);
    const url = `${env.DATABASE_URL}?schema=reporting`;
    const refused = await cli(["migrate"], { ...env, DATABASE_URL: url, DATABASE_SCHEMA: "analytics" });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/DATABASE_SCHEMA is "analytics" but DATABASE_URL's \?schema= is "reporting"/);
    expect((await admin.query(`SELECT count(*)::int AS n FROM pg_namespace WHERE nspname IN ('analytics', 'reporting', 'contacts_sync')`)).rows[0].n).toBe(0);

    await ok(["sync"], { ...env, DATABASE_URL: url });
    expect(await objectsIn(admin, "reporting")).toEqual(expectedObjects());
    expect((await admin.query(`SELECT count(*)::int AS n FROM reporting.contacts`)).rows[0].n).toBeGreaterThan(0);
    expect(await objectsIn(admin, "public")).toEqual([]);
  }, 120_000);

  it("lets the reader role read contacts and the views there, never the bookkeeping", async () => {
    const { admin, env, db } = await setup(40);
    const schemaEnv = { ...env, DATABASE_SCHEMA: "analytics" };
    await ok(["sync"], schemaEnv);
    const suffix = randomBytes(4).toString("hex");
    const reader = `schema_reader_${suffix}`;
    const login = `schema_login_${suffix}`;
    cleanup.push(async () => {
      const server = new pg.Client({ connectionString: adminUrl() });
      await server.connect();
      await admin.query(`DROP OWNED BY ${reader}, ${login}`).catch(() => undefined);
      await server.query(`DROP ROLE IF EXISTS ${login}`);
      await server.query(`DROP OWNED BY ${reader}`).catch(() => undefined);
      await server.query(`DROP ROLE IF EXISTS ${reader}`);
      await server.end();
    });
    expect((await ok(["grant-reader", reader], schemaEnv)).stdout).toMatch(/search_path/);
    // As docs/sql.md has it: a login of the tool's own, in the role, its sessions starting in the schema.
    await admin.query(`CREATE ROLE ${login} LOGIN PASSWORD 'pw-${suffix}' IN ROLE ${reader}`);
    await admin.query(`ALTER ROLE ${login} IN DATABASE ${db.name} SET search_path = analytics`);
    const url = new URL(db.url);
    url.username = login;
    url.password = `pw-${suffix}`;
    const bi = new pg.Client({ connectionString: url.toString() });
    await bi.connect();
    cleanup.push(() => bi.end());

    const { rows: views } = await admin.query<{ name: string }>(`SELECT viewname AS name FROM pg_views WHERE schemaname = 'analytics' ORDER BY 1`);
    expect(views.length).toBeGreaterThanOrEqual(13);
    for (const { name } of [{ name: "contacts" }, { name: "contact_changes" }, ...views]) {
      await expect(bi.query(`SELECT count(*) FROM "${name}"`), name).resolves.toBeTruthy();
    }
    expect((await bi.query(`SELECT count(*)::int AS n FROM analytics.contacts`)).rows[0].n).toBeGreaterThan(0);
    expect(BOOKKEEPING_TABLES).toContain("_prisma_migrations");
    for (const table of BOOKKEEPING_TABLES) {
      await expect(bi.query(`SELECT count(*) FROM analytics."${table}"`), table).rejects.toMatchObject({ code: "42501" });
    }
    expect((await bi.query(`SELECT count(*)::int AS n FROM contacts_as_of(now())`)).rows[0].n).toBeGreaterThan(0);
  }, 120_000);
});

describe("an earlier release's install in public", () => {
  it("moves into contacts_sync on the first start, losing nothing; the next start changes nothing; another application's objects stay", async () => {
    const { double, admin, env } = await setup(150);
    await otherApplication(admin);
    await installAsEarlierRelease(admin);
    // Another Prisma application keeps its migrations in the same public._prisma_migrations.
    await admin.query(`INSERT INTO public."_prisma_migrations" (id, checksum, migration_name, finished_at) VALUES ($1, 'x', '20250101000000_orders', now())`, [randomUUID()]);
    // Data as the earlier release wrote it: the layout DATABASE_SCHEMA=public keeps.
    const legacy = { ...env, DATABASE_SCHEMA: "public" };
    await ok(["sync"], legacy);
    for (const id of double.store.randomIds(4, (c) => c.lastSeenAt != null)) double.store.delete(id);
    await ok(["reconcile"], legacy);
    const before = await snapshot(admin, "public");
    expect(before.contacts[0].n).toBeGreaterThan(100);
    expect(before.history.map((h: { kind: string }) => h.kind)).toEqual(["delete", "insert"]);
    expect(before.checkpoints).toHaveLength(2);
    expect(before.migrations).toHaveLength(readMigrations().length);
    const orders = (await admin.query(`SELECT * FROM public.orders ORDER BY id`)).rows;

    // Before the move, status says where the mirror is and what moves it, instead of failing on a missing table.
    const waiting = await ok(["status"], env);
    expect(waiting.stdout).toMatch(/an earlier release's mirror is in the schema public: the next `contacts-sync migrate` \(or sync, or worker start\) moves it/);
    expect(waiting.stdout).toMatch(/pending migrations: 20261121000000_init, /);

    const first = await ok(["migrate"], env);
    expect(first.stderr).toMatch(/moved the mirror's \d+ objects from the schema public into \\"contacts_sync\\"/);
    expect(await snapshot(admin, "contacts_sync")).toEqual(before);
    expect(await objectsIn(admin, "contacts_sync")).toEqual(expectedObjects());
    // In public: the other application's objects, untouched, and its own row of the shared bookkeeping.
    expect(await objectsIn(admin, "public")).toEqual(["fn:order_count", "rel:_prisma_migrations", "rel:order_notes", "rel:orders"]);
    expect((await admin.query(`SELECT * FROM public.orders ORDER BY id`)).rows).toEqual(orders);
    expect((await admin.query(`SELECT note FROM public.order_notes ORDER BY 1`)).rows).toEqual([{ note: "first" }, { note: "second" }]);
    expect((await admin.query(`SELECT migration_name FROM public."_prisma_migrations"`)).rows).toEqual([{ migration_name: "20250101000000_orders" }]);

    const second = await ok(["migrate"], env);
    expect(second.stderr).not.toMatch(/moved/);
    expect(second.stdout).toMatch(/schema is up to date/);
    expect(await snapshot(admin, "contacts_sync")).toEqual(before);

    // And the moved mirror keeps working: new contacts are inserted, and recorded by the moved triggers.
    double.store.create(5);
    await ok(["sync"], env);
    const after = await snapshot(admin, "contacts_sync");
    expect(after.contacts[0].n).toBe(before.contacts[0].n + 5);
    expect(after.history.find((h: { kind: string }) => h.kind === "insert").n).toBe(before.history.find((h: { kind: string }) => h.kind === "insert").n + 5);
    expect(Number(after.nextRun[0].last_value)).toBeGreaterThan(Number(before.nextRun[0].last_value));
  }, 240_000);

  it("moves into another DATABASE_SCHEMA too, the helper functions with it", async () => {
    const { double, admin, env } = await setup(60);
    await installAsEarlierRelease(admin);
    await ok(["sync"], { ...env, DATABASE_SCHEMA: "public" });
    const before = await snapshot(admin, "public");

    const schemaEnv = { ...env, DATABASE_SCHEMA: "analytics" };
    expect((await ok(["migrate"], schemaEnv)).stderr).toMatch(/moved the mirror's \d+ objects from the schema public into \\"analytics\\"/);
    expect(await snapshot(admin, "analytics")).toEqual(before);
    expect(await objectsIn(admin, "analytics")).toEqual(expectedObjects());
    expect(await objectsIn(admin, "public")).toEqual([]);
    expect((await admin.query(`SELECT to_regnamespace('contacts_sync') IS NULL AS gone`)).rows[0].gone).toBe(true);
    expect((await admin.query(`SELECT count(*)::int AS n FROM pg_proc WHERE prosrc LIKE '%contacts_sync.%'`)).rows[0].n).toBe(0);

    double.store.create(4);
    await ok(["sync"], schemaEnv);
    expect((await admin.query(`SELECT count(*)::int AS n FROM analytics.contact_changes WHERE kind = 'insert'`)).rows[0].n).toBe(before.history[0].n + 4);
    expect((await admin.query(`SELECT count(*)::int AS n FROM analytics.contacts_as_of(now())`)).rows[0].n).toBe(before.contacts[0].n + 4);
  }, 180_000);

  it("refuses, changing nothing, when public and the schema both hold an install", async () => {
    const { admin, env } = await setup(10);
    await ok(["migrate"], env);
    await installAsEarlierRelease(admin);
    const refused = await cli(["migrate"], env);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/both in the schema public .* and in "contacts_sync".*Nothing was changed/);
    expect((await admin.query(`SELECT to_regclass('public.contacts') IS NOT NULL AND to_regclass('contacts_sync.contacts') IS NOT NULL AS both`)).rows[0].both).toBe(true);
  }, 120_000);
});

describe("a move that cannot finish", () => {
  it("is rolled back whole: everything stays in public, and the error says why", async () => {
    const { admin, env } = await setup(10);
    await installAsEarlierRelease(admin);
    const before = await objectsIn(admin, "public");
    // Something of another owner already has one of the mirror's names in the target schema.
    await admin.query(`CREATE SCHEMA analytics; CREATE TABLE analytics.contact_tags (x int)`);
    const refused = await cli(["migrate"], { ...env, DATABASE_SCHEMA: "analytics" });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/the move was rolled back and nothing was changed: .*contact_tags/);
    expect(await objectsIn(admin, "public")).toEqual(before);
    expect(await objectsIn(admin, "analytics")).toEqual(["rel:contact_tags"]);
    expect((await admin.query(`SELECT count(*)::int AS n FROM contacts_sync.contacts`).catch(() => null))).toBeNull();
    expect((await admin.query(`SELECT count(*)::int AS n FROM pg_proc WHERE pronamespace = 'contacts_sync'::regnamespace`)).rows[0].n).toBeGreaterThan(0);
  }, 120_000);
});
