// Every setting with a wrong value, through the CLI as a user runs it: the program stops before any request
// and any write, exits 2, and names the variable and what it expects. (CONTACTS_SYNC_DATA_DIR is only read
// when the embedded PostgreSQL starts: a wrong one stops the run with exit 1, naming it.) A test checks that
// every variable the config reader accepts has a case here, so a new setting cannot go untested.
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type pg from "pg";
import { CONFIG_VARIABLES } from "../../src/config.js";
import { startApiDouble, type ApiDouble } from "../../src/double/server.js";
import { createDatabase, type TestDatabase } from "../helpers/db.js";
import { TOKEN, cli, cliEnv, observe, testPool } from "./lib.js";

const dir = mkdtempSync(join(tmpdir(), "contacts-sync-config-"));
const emptyFile = join(dir, "empty-token");
writeFileSync(emptyFile, "\n");
const bearerFile = join(dir, "bearer-token");
writeFileSync(bearerFile, `Bearer ${TOKEN}\n`);
const aFile = join(dir, "a-file");
writeFileSync(aFile, "not a folder");

// Through the CLI too: a bad accounts file stops everything before any request or write (test/unit/accounts.test.ts has every case).
const duplicateAccounts = join(dir, "duplicate-accounts.yaml");
writeFileSync(duplicateAccounts, `accounts:\n  - name: acme\n    token_env: INBOX_API_TOKEN\n  - name: acme\n    token_env: INBOX_API_TOKEN\n`);

type Case = [variable: string, value: string | null, expected: RegExp, extra?: Record<string, string | null>];

const CASES: Case[] = [
  ["INBOX_API_URL", "ftp://api.example.com", /INBOX_API_URL: must use https:\/\/ \(plain http:\/\/ is allowed only on loopback\), got "ftp:\/\/api\.example\.com"/],
  ["INBOX_API_URL", "http://api.v7.botpenguin.com", /INBOX_API_URL: must use https:\/\/ \(plain http:\/\/ is allowed only on loopback\)/],
  ["INBOX_API_URL", "http://127.0.0.1.nip.io", /INBOX_API_URL: must use https:\/\/ \(plain http:\/\/ is allowed only on loopback\), got "http:\/\/127\.0\.0\.1\.nip\.io"/],
  ["INBOX_API_URL", "https://user:secret@api.v7.botpenguin.com", /INBOX_API_URL: expected a base URL without credentials, query or fragment \(the token goes in INBOX_API_TOKEN\)/],
  ["INBOX_API_URL", "https://api.v7.botpenguin.com/?apikey=abc", /INBOX_API_URL: expected a base URL without credentials, query or fragment/],
  ["INBOX_API_URL", "api.v7.botpenguin.com", /INBOX_API_URL: expected the API's base URL such as https:\/\/api\.v7\.botpenguin\.com, got "api\.v7\.botpenguin\.com"/],
  ["INBOX_API_TOKEN", null, /INBOX_API_TOKEN: required \(or INBOX_API_TOKEN_FILE\)/],
  ["INBOX_API_TOKEN", `Bearer ${TOKEN}`, /INBOX_API_TOKEN: expected the bare token, without spaces or a 'Bearer ' prefix/],
  ["INBOX_API_TOKEN", "two words", /INBOX_API_TOKEN: expected the bare token, without spaces/],
  ["INBOX_API_TOKEN", `${TOKEN}\u200b`, /INBOX_API_TOKEN: expected the bare token, printable ASCII only \(check for a pasted invisible or typographic character\)/],
  ["INBOX_API_TOKEN_FILE", join(dir, "missing"), /INBOX_API_TOKEN_FILE: cannot read ".*missing" \(ENOENT\)/, { INBOX_API_TOKEN: null }],
  ["INBOX_API_TOKEN_FILE", emptyFile, /INBOX_API_TOKEN: required/, { INBOX_API_TOKEN: null }],
  ["INBOX_API_TOKEN_FILE", bearerFile, /INBOX_API_TOKEN: expected the bare token, without spaces or a 'Bearer ' prefix/, { INBOX_API_TOKEN: null }],
  ["INBOX_API_TOKEN_FILE", emptyFile, /INBOX_API_TOKEN and INBOX_API_TOKEN_FILE are both set: keep exactly one/],
  ["DATABASE_URL", "mysql://user:pw@db.example.com/contacts", /DATABASE_URL: expected a PostgreSQL URL such as postgresql:\/\/user:password@host:5432\/db/],
  ["DATABASE_URL", "localhost:5432", /DATABASE_URL: expected a PostgreSQL URL/],
  ["DATABASE_SCHEMA", "Bad-Name", /DATABASE_SCHEMA: expected a lower-case schema name \(letters a-z, digits and _, not starting with a digit\) such as contacts_sync or analytics, got "Bad-Name"/],
  ["DATABASE_SCHEMA", "pg_mirror", /DATABASE_SCHEMA: "pg_mirror" is reserved for PostgreSQL's own catalogs/],
  ["DATABASE_SCHEMA", "analytics", /DATABASE_SCHEMA is "analytics" but DATABASE_URL's \?schema= is "reports": set one of them, or both the same/, { DATABASE_URL: "postgresql://u:p@127.0.0.1:1/db?schema=reports" }],
  ["SYNC_ACCOUNT", "two words", /SYNC_ACCOUNT: expected 1-64 letters, digits, '\.', '_' or '-'/],
  ["SYNC_ACCOUNT", "a".repeat(65), /SYNC_ACCOUNT: expected 1-64 letters/],
  ["SYNC_START_AT", "yesterday", /SYNC_START_AT: expected an ISO-8601 date such as 2024-01-01 or 2024-01-01T00:00:00Z, got "yesterday"/],
  ["SYNC_START_AT", "2024-13-45", /SYNC_START_AT: expected an ISO-8601 date/],
  ["SYNC_START_AT", "01/02/2024", /SYNC_START_AT: expected an ISO-8601 date/],
  ["SYNC_LOOKBACK", "10 minutes", /SYNC_LOOKBACK: expected a duration such as 30s, 10m or 2h \(at most 720h\), got "10 minutes"/],
  ["SYNC_LOOKBACK", "-5m", /SYNC_LOOKBACK: expected a duration/],
  ["SYNC_LOOKBACK", "31d", /SYNC_LOOKBACK: expected a duration such as 30s, 10m or 2h \(at most 720h\)/],
  ["SYNC_LAG", "2d", /SYNC_LAG: expected a duration such as 30s, 10m or 2h \(at most 24h\), got "2d"/],
  ["SYNC_LAG", "1.5h", /SYNC_LAG: expected a duration/],
  ["INBOX_FILTERS", "{", /INBOX_FILTERS: expected a JSON object such as \{"tags":\["vip"\]\}, got text that is not JSON/],
  ["INBOX_FILTERS", "[\"vip\"]", /INBOX_FILTERS: expected a JSON object such as/],
  ["INBOX_FILTERS", "{\"page\":2}", /INBOX_FILTERS: unknown or sync-owned filter\(s\) page; allowed: searchText, tags/],
  ["INBOX_FILTERS", "{\"tag\":[\"vip\"]}", /INBOX_FILTERS: unknown or sync-owned filter\(s\) tag;/],
  ["INBOX_TIMEOUT", "500ms", /INBOX_TIMEOUT: expected at least 1s/],
  ["INBOX_TIMEOUT", "11m", /INBOX_TIMEOUT: expected a duration such as 30s, 10m or 2h \(at most 0\.1\d*h\)/],
  ["SYNC_CONCURRENCY", "0", /SYNC_CONCURRENCY: expected a whole number from 1 to 32/],
  ["SYNC_CONCURRENCY", "33", /SYNC_CONCURRENCY: expected a whole number from 1 to 32/],
  ["INBOX_RETRIES", "-1", /INBOX_RETRIES: expected a whole number from 0 to 20/],
  ["INBOX_RETRIES", "21", /INBOX_RETRIES: expected a whole number from 0 to 20/],
  ["INBOX_RETRIES", "three", /INBOX_RETRIES: expected a whole number from 0 to 20/],
  ["SYNC_CRON", "every 5 minutes", /SYNC_CRON: expected a cron expression such as \*\/5 \* \* \* \* \(every 5 minutes\)/],
  ["SYNC_CRON", "61 * * * *", /SYNC_CRON: expected a cron expression/],
  ["RECONCILE_CRON", "* * *", /RECONCILE_CRON: expected a cron expression such as 30 3 \* \* \* \(03:30 every day\)/],
  ["TZ", "Mars/Olympus_Mons", /TZ: expected an IANA time zone such as UTC or Europe\/Berlin/],
  ["LOG_LEVEL", "verbose", /LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent/],
  ["LOG_FORMAT", "xml", /LOG_FORMAT: expected one of auto, json, pretty/],
  ["HTTP_PORT", "70000", /HTTP_PORT: expected a port number from 1 to 65535, or 0 to run without the health and metrics listener/],
  ["HTTP_PORT", "http", /HTTP_PORT: expected a port number/],
  ["READY_MAX_AGE", "soon", /READY_MAX_AGE: expected a duration/],
  ["READY_MAX_AGE", "0", /READY_MAX_AGE: expected at least 1s/],
  ["SHUTDOWN_GRACE", "100ms", /SHUTDOWN_GRACE: expected at least 1s/],
  ["HISTORY_RETENTION", "forever", /HISTORY_RETENTION: expected a duration/],
  ["CHECK_MAX_AGE", "weekly", /CHECK_MAX_AGE: expected a duration/],
  ["CHECK_MAX_AGE", "30s", /CHECK_MAX_AGE: expected at least 1m/],
  ["PROGRESS_INTERVAL", "0", /PROGRESS_INTERVAL: expected at least 1s/],
  ["DEFAULT_PHONE_REGION", "India", /DEFAULT_PHONE_REGION: expected a two-letter ISO 3166 region code/],
  ["DEFAULT_PHONE_REGION", "XX", /DEFAULT_PHONE_REGION: expected a two-letter ISO 3166 region code/],
  ["HISTORY_RETENTION", "3651d", /HISTORY_RETENTION: expected a duration such as 30s, 10m or 2h \(at most 87600h\)/],
  ["ACCOUNTS_FILE", join(dir, "no-accounts.yaml"), /ACCOUNTS_FILE: cannot read ".*no-accounts\.yaml" \(ENOENT\)/],
  ["ACCOUNTS_FILE", duplicateAccounts, /ACCOUNTS_FILE ".*": account "acme" \(accounts\[1\]\): name: "acme" is also the name of accounts\[0\]/],
  ["SYNC_ACCOUNTS_CONCURRENCY", "0", /SYNC_ACCOUNTS_CONCURRENCY: expected a whole number from 1 to 64/],
  ["INBOX_HOST_CONCURRENCY", "many", /INBOX_HOST_CONCURRENCY: expected a whole number from 1 to 256/],
];

let double: ApiDouble;
let db: TestDatabase;
let pool: pg.Pool;
let env: Record<string, string>;

beforeAll(async () => {
  double = await startApiDouble({ token: TOKEN, contacts: 10 });
  db = await createDatabase({ migrate: false });
  pool = testPool(db.url);
  env = cliEnv(double.url, db.url);
});

afterAll(async () => {
  await pool?.end();
  await double?.close();
  await db?.drop();
});

function withCase(variable: string, value: string | null, extra: Record<string, string | null> = {}): Record<string, string> {
  const out: Record<string, string | null> = { ...env, ...extra, [variable]: value };
  return Object.fromEntries(Object.entries(out).filter((e): e is [string, string] => e[1] !== null));
}

describe.concurrent(`bad configuration: ${CASES.length} wrong values, every setting`, () => {
  for (const [variable, value, expected, extra] of CASES) {
    const shown = value === null ? "(unset)" : JSON.stringify(value.length > 40 ? `${value.slice(0, 20)}…` : value);
    it(`${variable}=${shown} -> ${expected.source.replaceAll("\\", "").slice(0, 100)}`, async ({ task, expect }) => {
      const run = await cli(["sync"], withCase(variable, value, extra));
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).toMatch(expected);
      expect(run.stderr).toMatch(/^Configuration is invalid; nothing was requested or written\./);
      expect(run.stderr).not.toContain(TOKEN);
      observe(task, `exit 2: ${run.stderr.split("\n").find((l) => l.includes(variable.split("_FILE")[0]!))?.trim() ?? run.stderr.trim()}`);
    });
  }

  it("CONTACTS_SYNC_DATA_DIR a file, no DATABASE_URL -> CONTACTS_SYNC_DATA_DIR: cannot use ... for the embedded PostgreSQL", async ({ task, expect }) => {
    const run = await cli(["sync"], withCase("CONTACTS_SYNC_DATA_DIR", aFile, { DATABASE_URL: null }));
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/CONTACTS_SYNC_DATA_DIR: cannot use ".*a-file" for the embedded PostgreSQL \(EEXIST\): it must be a folder this user can create and write, or set DATABASE_URL/);
    observe(task, `exit 1: ${run.stderr.trim()}`);
  });

  it("several wrong settings at once -> each one listed, in one message", async ({ task, expect }) => {
    const run = await cli(["sync"], { ...env, SYNC_LAG: "soon", INBOX_RETRIES: "many", LOG_LEVEL: "loud" });
    expect(run.code).toBe(2);
    for (const v of ["SYNC_LAG:", "INBOX_RETRIES:", "LOG_LEVEL:"]) expect(run.stderr).toContain(v);
    observe(task, "exit 2, three problems listed");
  });
});

describe("bad configuration: what it left behind", () => {
  it("every variable the config reader accepts has at least one wrong-value case", () => {
    const covered = new Set([...CASES.map((c) => c[0]), "CONTACTS_SYNC_DATA_DIR"]);
    expect(CONFIG_VARIABLES.filter((v) => !covered.has(v))).toEqual([]);
  });

  it("no request reached the API and nothing was written to the database", async ({ task }) => {
    expect(double.stats.requests).toBe(0);
    const { rows } = await pool.query("SELECT count(*)::int AS n FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')");
    expect(rows[0].n).toBe(0);
    observe(task, "0 requests, 0 tables");
  });
});
