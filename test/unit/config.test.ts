// Every setting is checked before anything runs, and every problem names its variable.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig, CONFIG_VARIABLES, DEFAULT_API_URL } from "../../src/config.js";
import { ConfigError } from "../../src/errors.js";
import { parseDuration } from "../../src/durations.js";

const base = { INBOX_API_TOKEN: "tok_abcdef123456" };

function problems(env: Record<string, string>, needToken = true): string {
  try {
    loadConfig(env, { needToken });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error("expected a ConfigError");
}

describe("DATABASE_SCHEMA", () => {
  const url = "postgresql://u:secret-pw@db.example.com:5432/contacts";
  it("is contacts_sync unless DATABASE_SCHEMA or Prisma's ?schema= names another", () => {
    expect(loadConfig(base).databaseSchema).toBe("contacts_sync");
    expect(loadConfig({ ...base, DATABASE_SCHEMA: "analytics" }).databaseSchema).toBe("analytics");
    expect(loadConfig({ ...base, DATABASE_URL: `${url}?schema=reporting` }).databaseSchema).toBe("reporting");
    expect(loadConfig({ ...base, DATABASE_URL: `${url}?sslmode=require&schema=reporting`, DATABASE_SCHEMA: "reporting" }).databaseSchema).toBe("reporting");
    expect(loadConfig({ ...base, DATABASE_SCHEMA: "public" }).databaseSchema).toBe("public");
  });

  it("is an error when both name a schema and they differ, without the URL's password", () => {
    const text = problems({ ...base, DATABASE_URL: `${url}?schema=reporting`, DATABASE_SCHEMA: "analytics" });
    expect(text).toMatch(/DATABASE_SCHEMA is "analytics" but DATABASE_URL's \?schema= is "reporting"/);
    expect(text).not.toContain("secret-pw");
  });

  it.each([
    [{ DATABASE_SCHEMA: "Analytics" }, /DATABASE_SCHEMA: expected a lower-case schema name/],
    [{ DATABASE_SCHEMA: "my-schema" }, /DATABASE_SCHEMA: expected a lower-case schema name/],
    [{ DATABASE_SCHEMA: "1st" }, /DATABASE_SCHEMA: expected a lower-case schema name/],
    [{ DATABASE_SCHEMA: 'x"; drop table contacts; --' }, /DATABASE_SCHEMA: expected a lower-case schema name/],
    [{ DATABASE_SCHEMA: "pg_mirror" }, /DATABASE_SCHEMA: "pg_mirror" is reserved/],
    [{ DATABASE_SCHEMA: "information_schema" }, /DATABASE_SCHEMA: "information_schema" is reserved/],
    [{ DATABASE_SCHEMA: "a".repeat(64) }, /DATABASE_SCHEMA: "a+" is longer than PostgreSQL's 63-byte limit/],
    [{ DATABASE_URL: "postgresql://h/db?schema=My%20Schema" }, /DATABASE_URL \(\?schema=\): expected a lower-case schema name/],
  ])("refuses %o", (env, message) => {
    expect(problems({ ...base, ...env })).toMatch(message);
  });
});

describe("loadConfig", () => {
  it("has sensible defaults", () => {
    const c = loadConfig(base);
    expect(c.apiUrl.toString()).toBe(`${DEFAULT_API_URL}/`);
    expect(c.databaseUrl).toBeUndefined();
    expect(c.account).toBe("default");
    expect(c.lookbackMs).toBe(600_000);
    expect(c.lagMs).toBe(60_000);
    expect(c.filters).toEqual({});
    expect(c.startAt.toISOString()).toBe("2000-01-01T00:00:00.000Z");
  });

  it.each([
    [{ INBOX_API_URL: "not a url" }, /INBOX_API_URL: expected the API's base URL/],
    [{ INBOX_API_URL: "http://api.example.com" }, /INBOX_API_URL: must use https:\/\//],
    [{ INBOX_API_URL: "https://user:pw@api.example.com" }, /INBOX_API_URL: expected a base URL without credentials/],
    [{ DATABASE_URL: "mysql://x" }, /DATABASE_URL: expected a PostgreSQL URL/],
    [{ SYNC_START_AT: "last tuesday" }, /SYNC_START_AT: expected an ISO-8601 date/],
    [{ SYNC_START_AT: "2024-13-45" }, /SYNC_START_AT: expected an ISO-8601 date/],
    [{ SYNC_LOOKBACK: "10 minutes" }, /SYNC_LOOKBACK: expected a duration/],
    [{ SYNC_LAG: "-5m" }, /SYNC_LAG: expected a duration/],
    [{ SYNC_LAG: "3d" }, /SYNC_LAG: expected a duration/],
    [{ INBOX_FILTERS: "{tags: vip}" }, /INBOX_FILTERS: expected a JSON object/],
    [{ INBOX_FILTERS: "[1,2]" }, /INBOX_FILTERS: expected a JSON object/],
    [{ INBOX_FILTERS: '{"page": 3}' }, /INBOX_FILTERS: unknown or sync-owned filter\(s\) page/],
    [{ INBOX_FILTERS: '{"lastSeenAt": {}}' }, /sync-owned filter\(s\) lastSeenAt/],
    [{ LOG_LEVEL: "loud" }, /LOG_LEVEL: expected one of/],
    [{ SYNC_ACCOUNT: "a b" }, /SYNC_ACCOUNT: expected 1-64 letters/],
    [{ INBOX_TIMEOUT: "10ms" }, /INBOX_TIMEOUT: expected at least 1s/],
    [{ INBOX_RETRIES: "many" }, /INBOX_RETRIES: expected a whole number from 0 to 20/],
    [{ SYNC_CRON: "every five minutes" }, /SYNC_CRON: expected a cron expression/],
    [{ TZ: "Mars/Olympus" }, /TZ: expected an IANA time zone/],
  ])("rejects %j", (env, pattern) => {
    expect(problems({ ...base, ...env })).toMatch(pattern);
  });

  it("reports every problem at once", () => {
    const message = problems({ ...base, SYNC_LAG: "x", LOG_LEVEL: "y" });
    expect(message).toMatch(/SYNC_LAG/);
    expect(message).toMatch(/LOG_LEVEL/);
    expect(message).toMatch(/nothing was requested or written/);
  });

  it("allows plain http only on loopback", () => {
    expect(loadConfig({ ...base, INBOX_API_URL: "http://127.0.0.1:8080" }).apiUrl.host).toBe("127.0.0.1:8080");
    expect(loadConfig({ ...base, INBOX_API_URL: "http://localhost:1" }).apiUrl.hostname).toBe("localhost");
  });

  it("requires a token for commands that call the API, and never echoes it", () => {
    expect(problems({})).toMatch(/INBOX_API_TOKEN: required/);
    expect(loadConfig({}, { needToken: false }).token).toBeUndefined();
    const secret = "Bearer s3cr3t-value";
    const message = problems({ INBOX_API_TOKEN: secret });
    expect(message).toMatch(/without spaces or a 'Bearer ' prefix/);
    expect(message).not.toContain("s3cr3t");
  });

  it("reads the token from INBOX_API_TOKEN_FILE, and refuses both or an unreadable file", () => {
    const dir = mkdtempSync(join(tmpdir(), "cfg-"));
    const file = join(dir, "token");
    writeFileSync(file, "tok_from_file_123\n");
    expect(loadConfig({ INBOX_API_TOKEN_FILE: file }).token).toBe("tok_from_file_123");
    expect(problems({ INBOX_API_TOKEN_FILE: file, INBOX_API_TOKEN: "x1234" })).toMatch(/both set/);
    expect(problems({ INBOX_API_TOKEN_FILE: join(dir, "missing") })).toMatch(/INBOX_API_TOKEN_FILE: cannot read .* \(ENOENT\)/);
  });

  it("treats empty values as unset", () => {
    expect(loadConfig({ ...base, DATABASE_URL: "", SYNC_LAG: "" }).lagMs).toBe(60_000);
  });

  it("lists its variables", () => {
    expect(CONFIG_VARIABLES).toContain("INBOX_API_URL");
    expect(CONFIG_VARIABLES).toContain("SYNC_LOOKBACK");
  });
});

describe("parseDuration", () => {
  it.each([["30s", 30_000], ["10m", 600_000], ["2h", 7_200_000], ["1d", 86_400_000], ["500ms", 500], ["0", 0]])("%s", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });
  it.each(["", "10", "1.5h", "-1m", "10 m", "1w"])("rejects %j", (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});
