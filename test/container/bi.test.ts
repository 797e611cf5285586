// Dashboards out of the box, checked without Docker: the compose profile `bi` parses and wires Metabase to
// the mirror through a login in the read-only role (the login SQL is run for real here), the setup script
// sends Metabase the settings that match it (against a stand-in for Metabase's API), and every metric the
// Grafana dashboard queries is one the worker exports.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:http";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { SyncMetrics } from "../../src/metrics.js";
import { grantReader } from "../../src/db/sql/grantReader.js";
import { adminUrl, createDatabase, type TestDatabase } from "../helpers/db.js";

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), "utf8");
const compose = parse(read("docker-compose.yml"));
const services = compose.services as Record<string, Record<string, any>>;
const withDefaults = (value: string) => value.replace(/\$\{(\w+):-([^}]*)\}/g, "$2");
const setupEnv = services["metabase-setup"]!.environment as Record<string, string>;
const login = read("deploy/metabase/login.sql");

const cleanup: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const f of cleanup.reverse()) await f();
});

describe("docker compose profile bi", () => {
  it("starts Metabase and its helpers only with --profile bi", () => {
    const bi = Object.entries(services).filter(([, s]) => s.profiles?.includes("bi")).map(([n]) => n).sort();
    expect(bi).toEqual(["metabase", "metabase-login", "metabase-setup", "reader"]);
    expect(services.postgres!.profiles).toBeUndefined();
    expect(services.worker!.profiles).toBeUndefined();
    expect(services.metabase!.ports).toEqual(["127.0.0.1:3000:3000"]);
    expect(Object.keys(compose.volumes)).toContain(services.metabase!.volumes[0].split(":")[0]);
    // In order: the reader role, then the login in it, then Metabase, then its setup.
    expect(services["metabase-login"]!.depends_on).toEqual({ reader: { condition: "service_completed_successfully" } });
    expect(services.metabase!.depends_on).toEqual({ "metabase-login": { condition: "service_completed_successfully" } });
    expect(Object.keys(services["metabase-setup"]!.depends_on)).toEqual(["metabase"]);
  });

  it("connects Metabase to the mirror's database and schema as the login that login.sql puts in the reader role", () => {
    const readerRole = services.reader!.command[1];
    expect(services.reader!.command).toEqual(["grant-reader", readerRole]);
    expect(services.reader!.environment.DATABASE_URL).toBe(services.worker!.environment.DATABASE_URL);
    expect(login).toContain(`GRANT ${readerRole} TO ${setupEnv.MB_SOURCE_USER};`);
    expect(login).toContain(`ALTER ROLE ${setupEnv.MB_SOURCE_USER} WITH LOGIN`);
    expect(setupEnv.MB_SOURCE_HOST).toBe("postgres");
    expect(setupEnv.MB_SOURCE_DB).toBe(services.postgres!.environment.POSTGRES_DB);
    expect(withDefaults(services.worker!.environment.DATABASE_URL)).toMatch(new RegExp(`@${setupEnv.MB_SOURCE_HOST}:${setupEnv.MB_SOURCE_PORT}/${setupEnv.MB_SOURCE_DB}$`));
    // The password the login gets is the one Metabase is given.
    const given = services["metabase-login"]!.command.find((a: string) => a.startsWith("password="));
    expect(given).toBe(`password=${setupEnv.MB_SOURCE_PASSWORD}`);
  });

  let db: TestDatabase;
  it("login.sql makes a login that reads the mirror and cannot write (psql, for real)", async () => {
    // Roles are cluster-wide and other test files use these names: the same SQL, under names of its own.
    const suffix = Math.random().toString(36).slice(2, 8);
    const [readerRole, loginRole] = [`${services.reader!.command[1]}_${suffix}`, `${setupEnv.MB_SOURCE_USER}_${suffix}`];
    const sqlFile = join(mkdtempSync(join(tmpdir(), "contacts-sync-bi-")), "login.sql");
    writeFileSync(sqlFile, login.replaceAll(services.reader!.command[1], readerRole).replace(new RegExp(`\\b${setupEnv.MB_SOURCE_USER}\\b`, "g"), loginRole));
    db = await createDatabase({ searchPath: false }); // PostgreSQL's default search_path: login.sql must set it
    cleanup.push(async () => {
      await db.drop();
      const c = new pg.Client({ connectionString: adminUrl() });
      await c.connect();
      await c.query(`DROP ROLE IF EXISTS ${loginRole}`);
      await c.query(`DROP ROLE IF EXISTS ${readerRole}`);
      await c.end();
    });
    await grantReader(db.pool, readerRole);
    const url = new URL(db.url);
    const env = { ...process.env, PGHOST: url.hostname, PGPORT: url.port, PGUSER: decodeURIComponent(url.username), PGPASSWORD: decodeURIComponent(url.password), PGDATABASE: url.pathname.slice(1) };
    const psql = (args: string[]) => promisify(execFile)("psql", args, { env });
    const command = services["metabase-login"]!.command as string[];
    expect(command[4]).toBe(`schema=${setupEnv.MB_SOURCE_SCHEMA}`);
    const args = ["-v", withDefaults(command[2]!), "-v", withDefaults(command[4]!), "-f", sqlFile];
    await psql(args);
    await psql(args); // again: idempotent
    const asMetabase = new URL(db.url);
    asMetabase.username = loginRole;
    asMetabase.password = withDefaults(setupEnv.MB_SOURCE_PASSWORD!);
    const client = new pg.Client({ connectionString: asMetabase.toString() });
    await client.connect();
    cleanup.push(() => client.end());
    // login.sql starts its sessions in the mirror's schema (the one Metabase is told).
    expect((await client.query(`SELECT current_schema() AS s`)).rows[0].s).toBe(withDefaults(setupEnv.MB_SOURCE_SCHEMA!));
    const { rows } = await client.query(`SELECT count(*)::int AS n FROM contacts_current`);
    expect(rows[0].n).toBe(0);
    await expect(client.query(`INSERT INTO contacts (id, raw) VALUES ('x', '{}')`)).rejects.toThrow(/permission denied/);
    await expect(client.query(`SELECT count(*) FROM sync_runs`)).rejects.toThrow(/permission denied/);
  });

  it("setup.mjs creates the admin and the data source with exactly these settings, once", async () => {
    const calls: { path: string; body: any }[] = [];
    let setUp = false;
    const server = createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        calls.push({ path: req.url!, body: body ? JSON.parse(body) : null });
        res.setHeader("content-type", "application/json");
        if (req.url === "/api/health") return res.end(JSON.stringify({ status: "ok" }));
        if (req.url === "/api/session/properties") return res.end(JSON.stringify({ "setup-token": setUp ? null : "tok", "has-user-setup": setUp }));
        if (req.url === "/api/setup") {
          setUp = true;
          return res.end(JSON.stringify({ id: "session" }));
        }
        res.writeHead(404).end("{}");
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    cleanup.push(() => new Promise((resolve) => server.close(resolve)));
    const env = Object.fromEntries(Object.entries(setupEnv).map(([k, v]) => [k, withDefaults(v)]));
    Object.assign(process.env, env, { MB_URL: `http://127.0.0.1:${(server.address() as { port: number }).port}` });
    const { setup } = await import("../../deploy/metabase/setup.mjs" as string);
    const log = console.log;
    console.log = () => undefined;
    try {
      expect(await setup({ attempts: 1, delayMs: 0 })).toEqual({ done: true });
      expect(await setup({ attempts: 1, delayMs: 0 })).toEqual({ done: false });
    } finally {
      console.log = log;
    }
    const posted = calls.filter((c) => c.path === "/api/setup");
    expect(posted).toHaveLength(1);
    expect(posted[0]!.body.token).toBe("tok");
    expect(posted[0]!.body.user.email).toBe("admin@example.com");
    expect(posted[0]!.body.user.password.length).toBeGreaterThanOrEqual(20); // random when MB_ADMIN_PASSWORD is unset
    expect(posted[0]!.body.database).toEqual({
      engine: "postgres",
      name: "contacts-sync",
      details: {
        host: "postgres", port: 5432, dbname: "contacts", user: "metabase", password: "metabase", ssl: false,
        "schema-filters-type": "inclusion", "schema-filters-patterns": "contacts_sync",
      },
    });
  });
});

describe("deploy/grafana/contacts-sync.json", () => {
  const dashboard = JSON.parse(read("deploy/grafana/contacts-sync.json"));
  const exprs: string[] = dashboard.panels.flatMap((p: { targets: { expr: string }[] }) => p.targets.map((t) => t.expr));

  it("queries only metrics the worker exports", async () => {
    const metrics = new SyncMetrics({ startAt: new Date(0), defaultMetrics: false });
    const exported = new Set<string>();
    for (const m of metrics.registry.getMetricsAsArray()) {
      exported.add(m.name);
      if (String(m.type) === "histogram") for (const s of ["_bucket", "_sum", "_count"]) exported.add(`${m.name}${s}`);
    }
    const queried = new Set(exprs.flatMap((e) => e.match(/contacts_sync_\w+/g) ?? []));
    expect(queried.size).toBeGreaterThan(8);
    expect([...queried].filter((q) => !exported.has(q))).toEqual([]);
  });

  it("has the panels the operators asked for, on a Prometheus data source chosen at import", () => {
    const titles = dashboard.panels.map((p: { title: string }) => p.title).join(" | ");
    for (const want of [/Runs/, /lag/i, /requests by status/, /retries/, /Contacts written/]) expect(titles).toMatch(want);
    expect(dashboard.__inputs[0].pluginId).toBe("prometheus");
    expect(new Set(dashboard.panels.map((p: { id: number }) => p.id)).size).toBe(dashboard.panels.length);
  });
});
