// `grant-reader`: a role that reads every table and view (also those created later) and can change nothing,
// checked by logging in as a BI tool's own user, a member of that role, and trying.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { main } from "../../src/cli.js";
import { readerRoleArgument } from "../../src/commands/grantReader.js";
import { BOOKKEEPING_TABLES, grantReader } from "../../src/db/sql/grantReader.js";
import { ConfigError } from "../../src/errors.js";
import { adminUrl, createDatabase, type TestDatabase } from "../helpers/db.js";
import { writeCrafted } from "./crafted.js";

const suffix = randomBytes(4).toString("hex");
const READER = `reader_${suffix}`;
const LOGIN = `bi_${suffix}`;
const WEIRD = `weird "reader"; DROP TABLE contacts; -- ${suffix}`;
const POWERFUL = `powerful_${suffix}`;
const CLI_ROLE = `cli_reader_${suffix}`;
const MEMBER = `member_${suffix}`;
const PASSWORD = `pw-${suffix}`;

let db: TestDatabase;
let admin: pg.Client;
let bi: pg.Client;

beforeAll(async () => {
  db = await createDatabase();
  await writeCrafted(db);
  admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
});

afterAll(async () => {
  await bi?.end().catch(() => undefined);
  await admin?.end().catch(() => undefined);
  await db?.drop();
  // Roles belong to the whole server: remove them once the database that referred to them is gone.
  const server = new pg.Client({ connectionString: adminUrl() });
  await server.connect();
  for (const role of [LOGIN, MEMBER, READER, WEIRD, POWERFUL, CLI_ROLE]) await server.query(`DROP ROLE IF EXISTS ${server.escapeIdentifier(role)}`);
  await server.end();
});

describe("grant-reader", () => {
  it("creates the role once; running it again only re-grants", async () => {
    // Before PostgreSQL 15 every role (PUBLIC) could create tables in public: as on such a server, grant-reader
    // says so and gives the fix, which is then applied, so the refusals below hold on any server.
    await admin.query(`GRANT CREATE ON SCHEMA public TO PUBLIC`);
    const first = await grantReader(db.pool, READER);
    expect(first).toMatchObject({ role: READER, created: true });
    expect(first.warnings).toEqual([expect.stringContaining("REVOKE CREATE ON SCHEMA public FROM PUBLIC;")]);
    await admin.query(`REVOKE CREATE ON SCHEMA public FROM PUBLIC`);
    expect(await grantReader(db.pool, READER)).toEqual({ role: READER, created: false, warnings: [] });
    const { rows } = await admin.query(`SELECT rolcanlogin, rolsuper FROM pg_roles WHERE rolname = $1`, [READER]);
    expect(rows).toEqual([{ rolcanlogin: false, rolsuper: false }]);

    // A BI tool's own login, as docs/sql.md shows it.
    await admin.query(`CREATE ROLE ${LOGIN} LOGIN PASSWORD '${PASSWORD}' IN ROLE ${READER}`);
    const url = new URL(db.url);
    url.username = LOGIN;
    url.password = PASSWORD;
    bi = new pg.Client({ connectionString: url.toString() });
    await bi.connect();
  });

  it("lets the login read every table and view but the bookkeeping, and the history function", async () => {
    const { rows: all } = await admin.query<{ name: string }>(
      `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'contacts_sync' ORDER BY 1`,
    );
    expect(all.map((r) => r.name)).toEqual(expect.arrayContaining(["contacts", "contacts_current", "contact_changes", "contact_versions", "contact_attributes", ...BOOKKEEPING_TABLES]));
    const relations = all.filter((r) => !BOOKKEEPING_TABLES.includes(r.name));
    for (const name of BOOKKEEPING_TABLES) {
      await expect(bi.query(`SELECT count(*) FROM ${bi.escapeIdentifier(name)}`), name).rejects.toMatchObject({ code: "42501" });
    }
    for (const { name } of relations) {
      await expect(bi.query(`SELECT count(*) FROM ${bi.escapeIdentifier(name)}`), name).resolves.toBeTruthy();
    }
    const { rows } = await bi.query(`SELECT count(*)::int AS n FROM contacts_as_of(now()) WHERE account = 'default' AND deleted_at IS NULL`);
    expect(rows[0].n).toBe(7); // c01..c08 except c06 (deleted by reconcile); c07 is only DELETED in the inbox
  });

  it.each([
    ["INSERT", `INSERT INTO contacts (id, raw) VALUES ('intruder', '{}')`],
    ["UPDATE", `UPDATE contacts SET name = 'x'`],
    ["DELETE", `DELETE FROM contacts`],
    ["TRUNCATE", `TRUNCATE contacts`],
    ["INSERT into the history", `INSERT INTO contact_versions (account, contact_id, valid_to, superseded_by, tags, segments, platforms, secondary_platforms) VALUES ('default', 'x', now(), 1, '{}', '{}', '{}', '{}')`],
    ["DELETE from the history", `DELETE FROM contact_versions`],
    ["UPDATE a checkpoint", `UPDATE sync_checkpoints SET cursor = NULL`],
    ["use a sequence", `SELECT nextval('sync_runs_id_seq')`],
    ["CREATE TABLE", `CREATE TABLE public.mine (x int)`],
    ["CREATE VIEW", `CREATE VIEW public.mine AS SELECT 1 AS x`],
    ["CREATE TABLE in the mirror's schema", `CREATE TABLE contacts_sync.mine (x int)`],
    ["CREATE FUNCTION", `CREATE FUNCTION public.mine() RETURNS int LANGUAGE sql AS 'SELECT 1'`],
    ["CREATE SCHEMA", `CREATE SCHEMA mine`],
    ["DROP VIEW", `DROP VIEW contacts_current`],
    ["ALTER TABLE", `ALTER TABLE contacts ADD COLUMN mine int`],
  ])("refuses %s", async (_what, sql) => {
    await expect(bi.query(sql)).rejects.toMatchObject({ code: "42501" });
  });

  it("cannot grant itself more (PostgreSQL only warns, and grants nothing)", async () => {
    await bi.query(`GRANT INSERT ON contacts TO ${LOGIN}`);
    expect((await admin.query(`SELECT has_table_privilege($1, 'contacts', 'INSERT') AS can`, [LOGIN])).rows[0].can).toBe(false);
  });

  it("changed nothing through those attempts", async () => {
    const { rows } = await admin.query(`SELECT count(*)::int AS n, count(*) FILTER (WHERE name = 'x')::int AS x FROM contacts`);
    expect(rows[0]).toEqual({ n: 9, x: 0 });
  });

  it("reads tables and views that later migrations add", async () => {
    await admin.query(`CREATE TABLE contacts_sync.added_later (x int); INSERT INTO added_later VALUES (1); CREATE VIEW contacts_sync.added_view AS SELECT x FROM added_later`);
    expect((await bi.query(`SELECT x FROM added_view`)).rows).toEqual([{ x: 1 }]);
    await expect(bi.query(`INSERT INTO added_later VALUES (2)`)).rejects.toMatchObject({ code: "42501" });
  });

  it("quotes the role name: any text is a name, never SQL", async () => {
    expect((await grantReader(db.pool, WEIRD)).created).toBe(true);
    const { rows } = await admin.query(`SELECT rolname FROM pg_roles WHERE rolname = $1`, [WEIRD]);
    expect(rows).toHaveLength(1);
    expect((await admin.query(`SELECT to_regclass('contacts_sync.contacts') IS NOT NULL AS ok`)).rows[0].ok).toBe(true);
  });

  it("refuses roles that could do more than read, and its own user, changing nothing", async () => {
    await admin.query(`CREATE ROLE ${POWERFUL} NOLOGIN CREATEDB`);
    await expect(grantReader(db.pool, POWERFUL)).rejects.toThrow(/already exists with CREATEDB.*Nothing was changed/);
    expect((await admin.query(`SELECT has_table_privilege($1, 'contacts', 'SELECT') AS can`, [POWERFUL])).rows[0].can).toBe(false);
    const { rows: [me] } = await admin.query(`SELECT current_user AS me`);
    await expect(grantReader(db.pool, me.me)).rejects.toThrow(/cannot be made read-only/);
    await expect(grantReader(db.pool, "pg_monitor")).rejects.toThrow(/reserved/);
  });

  it("warns when the role inherits from other roles", async () => {
    await admin.query(`CREATE ROLE ${MEMBER} NOLOGIN IN ROLE ${READER}`);
    const result = await grantReader(db.pool, MEMBER);
    expect(result.created).toBe(false);
    expect(result.warnings).toEqual([`"${MEMBER}" is a member of "${READER}", and may do whatever it may. For a strictly read-only role, REVOKE "${READER}" FROM "${MEMBER}".`]);
  });

  it("checks the command line before starting anything", () => {
    expect(() => readerRoleArgument([])).toThrow(ConfigError);
    expect(() => readerRoleArgument(["a", "b"])).toThrow(/exactly one role name/);
    expect(() => readerRoleArgument(["x".repeat(64)])).toThrow(/63-byte/);
    expect(readerRoleArgument(["bi_reader"])).toBe("bi_reader");
  });

  it("works from the command line, and prints how to give a tool its own login", async () => {
    const out: string[] = [];
    const write = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      out.push(String(chunk));
      return true;
    });
    vi.stubEnv("DATABASE_URL", db.url);
    vi.stubEnv("LOG_LEVEL", "silent");
    try {
      expect(await main(["grant-reader", CLI_ROLE])).toBe(0);
    } finally {
      write.mockRestore();
      vi.unstubAllEnvs();
    }
    expect(out.join("")).toContain(`Created role ${CLI_ROLE} (NOLOGIN)`);
    expect(out.join("")).toContain(`CREATE ROLE metabase LOGIN PASSWORD`);
    expect((await admin.query(`SELECT has_table_privilege($1, 'contacts_current', 'SELECT') AS r, has_table_privilege($1, 'contacts', 'INSERT') AS w`, [CLI_ROLE])).rows[0])
      .toEqual({ r: true, w: false });
  });
});
