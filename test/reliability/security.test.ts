// Security basics: the token never shows (logs at trace level, error messages, status, metrics, crash
// reports, the database); plain http only on loopback; TLS certificates verified with no way to turn that
// off; SQL built only from constants and quoted identifiers, values always parameters, and hostile contact
// data round-trips unchanged; the container runs as a non-root user; the read-only role cannot write.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync } from "node:fs";
import https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import pg from "pg";
import { CONFIG_VARIABLES } from "../../src/config.js";
import { InboxClient } from "../../src/api/client.js";
import { freePort } from "../../src/db/embedded.js";
import { generateContacts } from "../../src/double/generate.js";
import { startApiDouble, FAULT_KINDS } from "../../src/double/server.js";
import { runIncremental, runReconcile } from "../../src/sync/runPass.js";
// These tests know their API (the double as documented): they read with that strategy instead of measuring it first.
import { guessedStrategy } from "../../src/sync/strategy.js";
import { createDatabase, type TestDatabase } from "../helpers/db.js";
import { quietLogger } from "../helpers/logs.js";
import { startScripted } from "../helpers/scripted.js";
import { EXACT, ROOT, TOKEN, cli, cliEnv, compareMirror, exactness, expectedRaw, observe, startCli, testPool, until } from "./lib.js";

let cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

/** The token, and pieces of it long enough to identify it. */
const NEEDLES = [TOKEN, TOKEN.slice(0, 12), TOKEN.slice(-12)];
function leaks(text: string): string[] {
  return NEEDLES.filter((n) => text.includes(n));
}

async function database(): Promise<{ db: TestDatabase; pool: pg.Pool }> {
  const db = await createDatabase({ migrate: false });
  const pool = testPool(db.url);
  cleanup.push(() => db.drop(), () => pool.end());
  return { db, pool };
}

/** Every row of every table of the mirror's database, as text, searched for the token. */
async function tablesContaining(pool: pg.Pool, needle: string): Promise<string[]> {
  const { rows } = await pool.query<{ t: string }>("SELECT quote_ident(table_name) AS t FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'");
  const out: string[] = [];
  for (const { t } of rows) {
    const hit = await pool.query(`SELECT count(*)::int AS n FROM ${t} x WHERE strpos(x::text, $1) > 0`, [needle]);
    if (hit.rows[0].n > 0) out.push(t);
  }
  return out;
}

async function get(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.text() };
}

describe("security: the token never appears", () => {
  it("whole runs at LOG_LEVEL=trace/debug through the CLI (sync with faults, reconcile, backfill, status, migrate, pretty logs): no byte of output, no table holds it", async ({ task }) => {
    const double = await startApiDouble({ token: TOKEN, contacts: 200, pageSize: 40, seed: 8, faults: { rate: 0.3, kinds: [...FAULT_KINDS], slowMs: 1500, retryAfterSeconds: 0 } });
    cleanup.push(() => double.close());
    const { db, pool } = await database();
    const env = cliEnv(double.url, db.url, { INBOX_RETRIES: "10", INBOX_TIMEOUT: "1s", LOG_LEVEL: "trace" });
    const runs = [
      await cli(["migrate"], env),
      await cli(["sync"], env),
      await cli(["reconcile"], { ...env, LOG_LEVEL: "debug", LOG_FORMAT: "pretty" }),
      await cli(["backfill", "--from", "2000-01-01T00:00:00Z", "--to", new Date().toISOString()], env),
      await cli(["status"], env),
      await cli(["status", "--json"], env),
    ];
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    const output = runs.map((r) => r.stdout + r.stderr).join("\n");
    expect(output).toMatch(/"msg":"retrying inbox request"/); // the debug lines were really there
    expect(leaks(output)).toEqual([]);
    for (const n of NEEDLES) expect(await tablesContaining(pool, n)).toEqual([]);
    expect(exactness(await compareMirror(pool, double))).toEqual(EXACT);
    observe(task, `${output.length} bytes of output from 6 commands (${double.stats.faults} faults retried); no trace of the token in them or in any table`);
  });

  it("an API that echoes the token in its answers (401 message, HTML title, 400 echoing the header): scrubbed from messages, logs and sync_runs", async ({ task }) => {
    const answers = [
      { status: 500, body: `<html><head><title>500 for Bearer ${TOKEN}</title></head></html>`, headers: { "content-type": "text/html" } },
      { status: 400, body: JSON.stringify({ success: false, message: "Bad Request", code: 400, data: [`header was: Bearer ${TOKEN}`] }) },
      { status: 401, body: JSON.stringify({ success: false, message: `token ${TOKEN} is revoked`, code: 401, data: [TOKEN] }) },
    ];
    let output = "";
    for (const answer of answers) {
      const server = await startScripted(() => answer);
      const { db, pool } = await database();
      cleanup.push(() => server.close());
      const run = await cli(["sync"], cliEnv(server.url, db.url, { LOG_LEVEL: "trace", INBOX_RETRIES: "1" }));
      expect(run.code).toBe(1);
      expect(run.stderr).toContain("[REDACTED]");
      output += run.stdout + run.stderr;
      expect((await pool.query("SELECT error FROM sync_runs")).rows[0].error).toContain("[REDACTED]");
      for (const n of NEEDLES) expect(await tablesContaining(pool, n)).toEqual([]);
    }
    expect(leaks(output)).toEqual([]);
    observe(task, "each message shows [REDACTED] where the API echoed the token; sync_runs.error likewise");
  });

  it("a crash on an unexpected error whose message carries the token (a database error quoting contact data)", async ({ task }) => {
    const double = await startApiDouble({ token: TOKEN, contacts: 0 });
    cleanup.push(() => double.close());
    const [base] = generateContacts(1, { seed: 4 });
    double.store.insert({ ...base!, _id: "65a1f3c29b7e4d0012c8aaaa", isContact: true, lastSeenAt: base!.createdAt, profile: { ...base!.profile, userDetails: { tags: [], attributes: [], name: `my key is ${TOKEN}` } } });
    const db = await createDatabase();
    const pool = testPool(db.url);
    cleanup.push(() => db.drop(), () => pool.end());
    // A trigger (of the test) that refuses the row, quoting it: an error the product did not foresee.
    await pool.query(`CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refusing contact named %', NEW.name; END $$;
                      CREATE TRIGGER refuse BEFORE INSERT ON contacts FOR EACH ROW EXECUTE FUNCTION refuse();`);
    const run = await cli(["sync"], cliEnv(double.url, db.url, { LOG_LEVEL: "trace" }));
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/refusing contact named my key is \[REDACTED\]/);
    expect(leaks(run.stdout + run.stderr)).toEqual([]);
    const error = (await pool.query("SELECT error FROM sync_runs")).rows[0].error as string;
    expect(leaks(error)).toEqual([]);
    observe(task, `exit 1; stderr: ${run.stderr.split("\n").find((l) => l.includes("refusing")) ?? ""}`.slice(0, 300));
  });

  it("the worker: /healthz, /readyz, /metrics and its logs at trace level, through SIGTERM", async ({ task }) => {
    const double = await startApiDouble({ token: TOKEN, contacts: 200, pageSize: 40 });
    cleanup.push(() => double.close());
    const { db } = await database();
    const port = await freePort();
    const worker = startCli(["worker"], cliEnv(double.url, db.url, { LOG_LEVEL: "trace", HTTP_PORT: String(port) }));
    cleanup.push(() => worker.kill());
    const base = `http://127.0.0.1:${port}`;
    const ready = await until(async () => {
      const r = await get(`${base}/readyz`).catch(() => undefined);
      return r?.status === 200 ? r : undefined;
    }, 60_000, 200);
    const health = await get(`${base}/healthz`);
    // Readiness follows the committed checkpoint; the run counter follows once the pass has wound up (after
    // its re-derivation slice): wait for it rather than race it.
    const metrics = await until(async () => {
      const m = await get(`${base}/metrics`);
      return /contacts_sync_runs_total\{kind="incremental",outcome="succeeded"\} 1/.test(m.body) ? m : undefined;
    }, 60_000, 200);
    expect(health.status).toBe(200);
    expect(metrics.body).toMatch(/contacts_sync_runs_total\{kind="incremental",outcome="succeeded"\} 1/);
    process.kill(worker.pid, "SIGTERM");
    const result = await worker.done;
    expect(result.code).toBe(0);
    const all = [ready.body, health.body, metrics.body, result.stdout, result.stderr].join("\n");
    expect(leaks(all)).toEqual([]);
    observe(task, `${all.length} bytes (health, readiness, metrics, logs); exit 0 on SIGTERM; no trace of the token`);
  });
});

describe("security: plain http only on loopback", () => {
  for (const [url, code] of [
    ["http://localhost:PORT", 0],
    ["http://127.0.0.1:PORT", 0],
    ["http://127.0.0.1.nip.io:PORT", 2],
    ["http://contacts.example.com:PORT", 2],
  ] as const) it(`INBOX_API_URL=${url} -> ${code === 0 ? "accepted (exit 0)" : "refused (exit 2)"}`, async ({ task }) => {
    const double = await startApiDouble({ token: TOKEN, contacts: 5 });
    cleanup.push(() => double.close());
    const { db } = await database();
    const port = new URL(double.url).port;
    const run = await cli(["sync"], cliEnv(url.replace("PORT", port), db.url));
    expect(run.code, run.stderr).toBe(code);
    if (code === 2) expect(run.stderr).toMatch(/INBOX_API_URL: must use https:\/\/ \(plain http:\/\/ is allowed only on loopback\)/);
    observe(task, code === 0 ? "accepted, synced" : run.stderr.split("\n")[1]!.trim());
  });
});

describe("security: TLS certificates are verified, and there is no switch to stop that", () => {
  /** A certificate for CN=localhost: made with openssl when it exists, else the fixed one in fixtures/. */
  function certificate(): { cert: string; key: string; made: string } {
    try {
      const dir = mkdtempSync(join(tmpdir(), "contacts-sync-tls-"));
      execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
        "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"), "-days", "2"], { stdio: "ignore" });
      return { cert: join(dir, "cert.pem"), key: join(dir, "key.pem"), made: "openssl" };
    } catch {
      const dir = join(ROOT, "test/reliability/fixtures");
      return { cert: join(dir, "localhost-cert.pem"), key: join(dir, "localhost-key.pem"), made: "fixture" };
    }
  }

  async function httpsApi(): Promise<{ url: (host: string) => string; cert: string; requests: () => number; handshakes: () => number; made: string }> {
    const { cert, key, made } = certificate();
    let requests = 0;
    let handshakes = 0;
    const server = https.createServer({ cert: readFileSync(cert), key: readFileSync(key) }, (_req, res) => {
      requests += 1;
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ success: true, message: "ok", code: 200, data: [] }));
    });
    server.on("tlsClientError", () => (handshakes += 1));
    server.on("secureConnection", () => (handshakes += 1));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    cleanup.push(() => new Promise((r) => { server.closeAllConnections(); server.close(() => r(undefined)); }));
    return { url: (host) => `https://${host}:${port}`, cert, requests: () => requests, handshakes: () => handshakes, made };
  }

  for (const c of [
    { name: "self-signed certificate", env: {}, host: "localhost", code: 1, message: /TLS certificate could not be verified \(DEPTH_ZERO_SELF_SIGNED_CERT: self-signed certificate[^)]*\); the token is never sent/ }, // Node 26 adds a hint about --use-system-ca
    { name: "self-signed, with NODE_TLS_REJECT_UNAUTHORIZED=0", env: { NODE_TLS_REJECT_UNAUTHORIZED: "0" }, host: "localhost", code: 1, message: /TLS certificate could not be verified \(DEPTH_ZERO_SELF_SIGNED_CERT/ },
    { name: "trusted through NODE_EXTRA_CA_CERTS, but the host name does not match", env: { NODE_EXTRA_CA_CERTS: "CERT" }, host: "127.0.0.1", code: 1, message: /TLS certificate could not be verified \(ERR_TLS_CERT_ALTNAME_INVALID/ },
    { name: "trusted through NODE_EXTRA_CA_CERTS, matching host (verification passes)", env: { NODE_EXTRA_CA_CERTS: "CERT" }, host: "localhost", code: 0, message: /incremental: succeeded/ },
  ]) it(`${c.name} -> exit ${c.code}: ${c.message.source.replaceAll("\\", "").slice(0, 90)}`, async ({ task }) => {
    const api = await httpsApi();
    const { db } = await database();
    const env = Object.fromEntries(Object.entries(c.env).map(([k, v]) => [k, v === "CERT" ? api.cert : v]));
    const run = await cli(["sync"], cliEnv(api.url(c.host), db.url, { INBOX_RETRIES: "3", ...env }));
    expect(run.code, run.stderr).toBe(c.code);
    expect(run.stdout + run.stderr).toMatch(c.message);
    if (c.code !== 0) {
      expect(api.requests()).toBe(0); // no HTTP request, so no token, reached the server
      expect(api.handshakes()).toBe(1); // and it was not retried
    }
    observe(task, `(certificate from ${api.made}) ${(run.stdout + run.stderr).split("\n").find((l) => c.message.test(l))?.replace(/^error: /, "").slice(0, 200) ?? ""}`);
  });

  it("no setting and no code path disables verification", () => {
    expect(CONFIG_VARIABLES.filter((v) => /TLS|SSL|CERT|VERIFY|INSECURE|REJECT/i.test(v))).toEqual([]);
    const offenders = sourceFiles().filter((f) => /rejectUnauthorized\s*:\s*false|process\.env\.NODE_TLS_REJECT_UNAUTHORIZED\s*=|checkServerIdentity/.test(readFileSync(f, "utf8")));
    expect(offenders).toEqual([]);
  });
});

function sourceFiles(dir = join(ROOT, "src")): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === "generated" ? [] : sourceFiles(path);
    return path.endsWith(".ts") ? [path] : [];
  });
}

describe("security: SQL is parameterised", () => {
  // Every place that hands SQL text to a driver without Prisma's tagged template ($queryRaw`...`, whose
  // ${...} become parameters). Each interpolation or variable allowed here is a constant or a quoted
  // identifier, never a value; a new one fails this test until it is reviewed and listed.
  const REVIEWED: Record<string, { variables?: string[]; interpolations?: string[]; why: string }> = {
    "src/db/sql/upsertContacts.ts": { variables: ["statement"], why: "named prepared statements whose texts (pageSql, one per combination of bookkeeping) are built once from CONTACT_COLUMNS (constant column names, types and parameter numbers) and parameter numbers; values travel as $1..$n typed arrays, JSON texts and scalars" },
    "src/db/migrate.ts": {
      variables: ["CREATE_TABLE", "migration.sql", "migrationSqlFor"],
      interpolations: ["quoteIdent(schema)", "signature"],
      why: "Prisma's bookkeeping DDL and the migration files of the repository (helper names rewritten to the schema); the schema quoted as an identifier (and checked strictly by config); function signatures as PostgreSQL renders them (regprocedure)",
    },
    "src/db/client.ts": { variables: ["sql"], why: "SET search_path to the mirror's schema, quoted as an identifier" },
    "src/db/schema.ts": {
      variables: ["migrationSqlFor"],
      interpolations: ["quoteIdent(where)", "target", "signature", "quoteIdent(from)", "quoteIdent(object.name)", "alter", "quoteIdent(HELPER_SCHEMA)"],
      why: "schema and object names quoted as identifiers (object names from the migration files); ALTER's object kind from a constant map; signatures as PostgreSQL renders them; function definitions from pg_get_functiondef",
    },
    "src/db/sql/grantReader.ts": { variables: ["sql"], interpolations: ["id"], why: "role and database names quoted with pg's escapeIdentifier" },
    "src/db/sql/remapContacts.ts": { variables: ["TAKE_SQL", "REWRITE_SQL"], why: "built once from CONTACT_COLUMNS (constant column names and types); values travel as $1..$4" },
    "src/db/embedded.ts": { interpolations: ["database.replaceAll('\"', '\"\"')"], why: "the embedded database's name, a constant, quoted as an identifier" },
  };
  const CALL = /\b(?:client|pool|admin|tx|db|prisma|this\.db)\s*\.\s*(query|\$queryRawUnsafe|\$executeRawUnsafe|unsafe)\s*(?:<[^>(]*>)?\(\s*/g;

  it("no value is pasted into SQL text: every untagged SQL string is a literal, a reviewed constant or a quoted identifier", ({ task }) => {
    const found: string[] = [];
    let sites = 0;
    for (const file of sourceFiles()) {
      const text = readFileSync(file, "utf8");
      const rel = file.slice(ROOT.length);
      for (const m of text.matchAll(CALL)) {
        sites += 1;
        const rest = text.slice(m.index! + m[0].length);
        const reviewed = REVIEWED[rel];
        if (rest[0] === '"' || rest[0] === "'") {
          const end = rest.indexOf(rest[0], 1);
          if (/^\s*\+/.test(rest.slice(end + 1))) found.push(`${rel}: string concatenation at ${rest.slice(0, 60)}`);
        } else if (rest[0] === "`") {
          const body = rest.slice(1, rest.indexOf("`", 1));
          for (const [, expr] of body.matchAll(/\$\{([^}]*)\}/g)) if (!reviewed?.interpolations?.includes(expr!)) found.push(`${rel}: \${${expr}} in ${body.slice(0, 60)}`);
        } else {
          const variable = /^[\w.$]+/.exec(rest)?.[0] ?? rest.slice(0, 20);
          if (!reviewed?.variables?.includes(variable)) found.push(`${rel}: SQL from the variable ${variable}`);
        }
      }
    }
    expect(found).toEqual([]);
    expect(sites).toBeGreaterThan(10);
    // The reviewed texts themselves: only constants or escapeIdentifier go into them.
    const upsert = readFileSync(join(ROOT, "src/db/sql/upsertContacts.ts"), "utf8");
    expect(upsert).toMatch(/FROM unnest\(\$2::text\[\], \$\{/);
    expect(upsert).toMatch(/jsonb_array_elements\(\$\$\{c\.param\}::jsonb\)/);
    expect(upsert).toMatch(/const statement: pg\.QueryConfig = \{ \.\.\.statementFor\(v\), values \};/);
    expect(upsert).toMatch(/const values: unknown\[\] = \[account, page\.ids, /);
    // The bookkeeping's parts take nothing but parameter numbers.
    expect(upsert).toMatch(/const param = \(\) => `\$\$\{next\+\+\}`;/);
    const grant = readFileSync(join(ROOT, "src/db/sql/grantReader.ts"), "utf8");
    for (const [, expr] of [...grant.matchAll(/`(?:GRANT|REVOKE|ALTER DEFAULT|CREATE ROLE)\b[^`]*`/g)].flatMap((t) => [...t[0].matchAll(/\$\{([^}]*)\}/g)])) {
      expect(expr === "id" || expr!.startsWith("client.escapeIdentifier(") || expr!.startsWith("memberOf.map((m) => client.escapeIdentifier(")).toBe(true);
    }
    observe(task, `${sites} call sites handing SQL text to a driver; all literals, or reviewed: ${Object.entries(REVIEWED).map(([f, r]) => `${f} (${r.why})`).join("; ")}`);
  });

  it("hostile contact data (quotes, backslashes, SQL, NUL, emoji, right-to-left, odd keys and ids) round-trips unchanged", async ({ task }) => {
    const double = await startApiDouble({ token: TOKEN, contacts: 30, seed: 12 });
    cleanup.push(() => double.close());
    const hostile = [
      "Robert'); DROP TABLE contacts;--", 'Dwayne "The Rock" \\ Johnson', "back\\slash\\\\double", "$1 $2 ${x} %s %d ?", "'; SELECT pg_sleep(10); --",
      "NUL\u0000inside", "😀👩‍👩‍👧‍👦 🇮🇳", "محمد الأحمد", "שרה כהן \u202Eevil\u202C", "zero\u200Bwidth", "e\u0301 combining", "\uD83D\uDE00 surrogate pair",
      "{\"json\": [1, 2]}", "line\nbreak\ttab\r", "x".repeat(5000),
    ];
    const [template] = generateContacts(1, { seed: 99 });
    const made = hostile.map((name, i) => {
      const t = new Date(Date.now() - (i + 1) * 60_000).toISOString();
      return double.store.insert({
        ...template!, _id: i === 0 ? `x'); DROP TABLE contacts;-- ${i}` : `hostile${String(i).padStart(19, "0")}`, isContact: true, status: "OPEN",
        createdAt: t, lastSeenAt: t, updatedAt: t,
        profile: { ...template!.profile, userDetails: { name, userProvidedName: name, tags: [name, "plain"], attributes: [{ key: name, value: name }] } },
        // Unknown fields with awkward keys are kept in raw as well.
        ...({ [`key "${i}" with 'quotes' \\ and \u0000 NUL`]: name, "$where": "1=1", "a.b": { "c[d]": name } } as object),
      });
    });
    const db = await createDatabase();
    const pool = testPool(db.url);
    cleanup.push(() => db.drop(), () => pool.end());
    const client = new InboxClient({ baseUrl: new URL(double.url), token: TOKEN, filters: {}, timeoutMs: 5000, retries: 0, logger: quietLogger() });
    cleanup.push(() => client.close());
    const ctx = { db, client, logger: quietLogger(), config: { account: "acc'ount\\-1".replace(/[^A-Za-z0-9_.-]/g, "_"), startAt: new Date("2000-01-01T00:00:00Z"), lookbackMs: 0, lagMs: 0 }, strategy: guessedStrategy() };
    await runIncremental(ctx);
    await runReconcile(ctx);
    expect(exactness(await compareMirror(pool, double, ctx.config.account))).toEqual(EXACT);
    for (const c of made) {
      const { rows } = await pool.query("SELECT name, tags FROM contacts WHERE id = $1", [c._id]);
      const name = c.profile.userDetails!.name!;
      expect(rows[0]).toEqual({ name: (expectedRaw(name) as string), tags: [expectedRaw(name), "plain"] });
    }
    const { rows } = await pool.query("SELECT count(*)::int AS n FROM contacts");
    expect(rows[0].n).toBe(double.store.visible().filter((c) => c.isContact).length);
    observe(task, `${made.length} hostile contacts: raw, name and tags equal to what was sent (NUL as U+FFFD); the table and every other row intact`);
  });
});

describe("security: the container and the read-only role", () => {
  it("the Dockerfile's final stage runs as a non-root user, and compose does not override it", ({ task }) => {
    const dockerfile = readFileSync(join(ROOT, "Dockerfile"), "utf8").replace(/\\\n/g, " ");
    const lines = dockerfile.split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
    const lastFrom = lines.map((l) => /^FROM\b/i.test(l)).lastIndexOf(true);
    const users = lines.slice(lastFrom).filter((l) => /^USER\b/i.test(l)).map((l) => l.split(/\s+/)[1]!);
    expect(users.length).toBeGreaterThan(0);
    const user = users.at(-1)!;
    expect(["root", "0", "0:0", "root:root"]).not.toContain(user);
    // Nothing after the USER line switches back or runs as root.
    const after = lines.slice(lines.lastIndexOf(lines.slice(lastFrom).filter((l) => /^USER\b/i.test(l)).at(-1)!));
    expect(after.filter((l) => /^RUN\b/i.test(l) && /\bsu(do)?\b/.test(l))).toEqual([]);
    const compose = existsSync(join(ROOT, "docker-compose.yml")) ? readFileSync(join(ROOT, "docker-compose.yml"), "utf8") : "";
    expect(compose).not.toMatch(/^\s*user:\s*["']?(root|0)\b/m);
    expect(compose).not.toMatch(/^\s*privileged:\s*true/m);
    observe(task, `final stage USER ${user}; compose sets no root user and no privileged mode`);
  });

  it("the role made by grant-reader reads the mirror and cannot write, create or take locks on it", async ({ task }) => {
    const double = await startApiDouble({ token: TOKEN, contacts: 20 });
    cleanup.push(() => double.close());
    const { db } = await database();
    const env = cliEnv(double.url, db.url);
    expect((await cli(["sync"], env)).code).toBe(0);
    const role = `reader_${Math.random().toString(36).slice(2, 8)}`;
    const granted = await cli(["grant-reader", role], env);
    expect(granted.code, granted.stderr).toBe(0);
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    cleanup.push(() => admin.end());
    await admin.query(`CREATE ROLE ${role}_login LOGIN PASSWORD 'pw' IN ROLE ${role}`);
    cleanup.push(() => admin.query(`DROP OWNED BY ${role}_login; DROP ROLE IF EXISTS ${role}_login; DROP OWNED BY ${role}; DROP ROLE IF EXISTS ${role}`).catch(() => undefined));
    const url = new URL(db.url);
    url.username = `${role}_login`;
    url.password = "pw";
    const reader = new pg.Client({ connectionString: url.toString() });
    await reader.connect();
    cleanup.push(() => reader.end());
    const { rows } = await reader.query("SELECT count(*)::int AS n FROM contacts");
    expect(rows[0].n).toBeGreaterThan(0);
    const attempts = [
      "INSERT INTO contacts (account, id, raw) VALUES ('x', 'y', '{}')",
      "UPDATE contacts SET name = 'x'",
      "DELETE FROM contacts",
      "TRUNCATE contacts",
      "UPDATE sync_checkpoints SET cursor = now()",
      "DELETE FROM sync_runs",
      "CREATE TABLE contacts_copy AS SELECT * FROM contacts",
      "LOCK TABLE contacts IN ACCESS EXCLUSIVE MODE",
    ];
    const refused: string[] = [];
    for (const sql of attempts) {
      await reader.query("BEGIN");
      const error = await reader.query(sql).then(() => undefined, (e: { code?: string }) => e);
      await reader.query("ROLLBACK");
      if (error?.code === "42501") refused.push(sql.split(" ").slice(0, 2).join(" "));
    }
    expect(refused).toHaveLength(attempts.length);
    observe(task, `SELECT works; refused with permission denied: ${refused.join(", ")}`);
  });
});
