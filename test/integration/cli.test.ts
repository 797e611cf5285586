// The product as a user runs it: ./bin/contacts-sync in a child process, with settings in its environment,
// against the API double and a real PostgreSQL. Needs the build (npm ci runs it).
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import pg from "pg";
import { startApiDouble, type ApiDouble } from "../../src/double/server.js";
import { createDatabase, type TestDatabase } from "../helpers/db.js";
import { startScripted, type Scripted } from "../helpers/scripted.js";
import { cli, startCli } from "../helpers/cli.js";
import { mirror, source, TOKEN } from "../helpers/sync.js";

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function setup(contacts: number, options: Parameters<typeof startApiDouble>[0] | object = {}): Promise<{ double: ApiDouble; db: TestDatabase; env: Record<string, string> }> {
  const double = await startApiDouble({ token: TOKEN, contacts, ...options });
  const db = await createDatabase({ migrate: false });
  cleanup.push(() => double.close(), () => db.drop());
  return {
    double,
    db,
    env: { INBOX_API_URL: double.url, INBOX_API_TOKEN: TOKEN, DATABASE_URL: db.url, SYNC_LAG: "0", SYNC_START_AT: "2000-01-01", INBOX_RETRIES: "2" },
  };
}

describe("contacts-sync CLI", () => {
  it("sync migrates, mirrors, and says what it did; status reports it", async () => {
    const { double, db, env } = await setup(300, { pageSize: 50 });
    const run = await cli(["sync"], env);
    expect(run.stderr).not.toContain(TOKEN);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/incremental: succeeded in .* requests \d+, pages \d+, received \d+, inserted \d+/);
    expect((await mirror(db)).size).toBe(source(double, (c) => c.lastSeenAt != null).size);
    const status = await cli(["status", "--json"], env);
    expect(status.code).toBe(0);
    const report = JSON.parse(status.stdout);
    expect(report.accounts.map((a: { account: string }) => a.account)).toEqual(["default"]);
    expect(report.accounts[0].contacts.live).toBe((await mirror(db)).size);
    expect(report.accounts[0].lastRuns[0]).toMatchObject({ kind: "incremental", status: "succeeded" });
    expect(report.pendingMigrations).toEqual([]);
    const text = await cli(["status"], env);
    expect(text.stdout).toMatch(/contacts: \d+ live, 0 marked deleted/);
    const migrate = await cli(["migrate"], env);
    expect(migrate.stdout).toMatch(/schema is up to date/);
  });

  it("resumes after SIGKILL mid-window and loses nothing", async () => {
    const { double, db, env } = await setup(1500, { pageSize: 20, latencyMs: 15 });
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    cleanup.push(() => admin.end());
    // One lane: the cursor moves with every committed page, so "fewer requests than reading it all" below is a
    // fair bound. With several lanes a kill may legitimately come while the top lane lags the lanes below it
    // (their pages are then read again); that bound is test/reliability/crashes.test.ts's.
    const first = startCli(["sync"], { ...env, SYNC_CONCURRENCY: "1" });
    for (;;) {
      await sleep(25);
      const r = await admin.query("select coalesce(max(pages), 0)::int as p from sync_runs").catch(() => ({ rows: [{ p: 0 }] }));
      if ((r.rows[0]?.p ?? 0) >= 8) break;
    }
    first.kill();
    const killed = await first.done;
    expect(killed.code).toBeNull(); // killed by the signal
    const cp = (await admin.query("select cursor, window_start, synced_until from sync_checkpoints")).rows[0];
    expect(cp.window_start).not.toBeNull();
    expect(cp.synced_until).toBeNull();
    // The checkpoint is never ahead of the data: every contact above the cursor is mirrored.
    const mirrored = await mirror(db);
    const above = [...source(double, (c) => c.lastSeenAt != null).values()].filter((c) => Date.parse((c as { createdAt: string }).createdAt) >= (cp.cursor as Date).getTime());
    for (const c of above) expect(mirrored.has((c as { _id: string })._id)).toBe(true);
    const requestsBefore = double.stats.requests;
    const second = await cli(["sync"], env);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toMatch(/resuming the window of an interrupted run/);
    const expected = source(double, (c) => c.lastSeenAt != null);
    const final = await mirror(db);
    expect([...expected.keys()].filter((id) => !final.has(id))).toEqual([]);
    expect(double.stats.requests - requestsBefore).toBeLessThan(Math.ceil(expected.size / 19));
    const runs = (await admin.query("select status, error from sync_runs order by id")).rows;
    expect(runs.map((r) => r.status)).toEqual(["failed", "succeeded"]);
    expect(runs[0].error).toMatch(/run was never closed/);
  });

  it.each([
    [401, { success: false, message: "Unauthorized", code: 401, data: ["Invalid or expired token"] }, /answered 401\. The API said: Unauthorized; Invalid or expired token\. The API refused the token/],
    [403, { success: false, message: "Forbidden", code: 403, data: ["Plan does not include API access"] }, /answered 403.*Plan does not include API access/],
    [400, { success: false, message: "Bad Request", code: 400, data: ["lastSeenAt.startAt must be a date"] }, /refused the request with 400.*lastSeenAt.startAt must be a date.*Retrying cannot help/],
    [404, { success: false, message: "Not Found", code: 404, data: [] }, /refused the request with 404.*check INBOX_API_URL/],
  ])("fails at once on %i with the server's message and a hint, writing nothing", async (status, body, pattern) => {
    const server: Scripted = await startScripted(() => ({ status, body: JSON.stringify(body) }));
    const db = await createDatabase({ migrate: false });
    cleanup.push(() => server.close(), () => db.drop());
    const run = await cli(["sync"], { INBOX_API_URL: server.url, INBOX_API_TOKEN: TOKEN, DATABASE_URL: db.url });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(pattern);
    expect(run.stderr).not.toContain(TOKEN);
    expect(server.requests).toHaveLength(1); // no retries
    expect(server.requests[0]!.headers.authorization).toBe(`Bearer ${TOKEN}`);
    // A first run measures the API before it reads (as `check` does): its first request is the plain listing.
    expect(JSON.parse(server.requests[0]!.body)).toMatchObject({ isContact: true, page: 1, applicableFilters: [] });
    const count = await db.pool.query("select count(*)::int as n from contacts");
    expect(count.rows[0].n).toBe(0);
    const cp = await db.pool.query("select * from sync_checkpoints where synced_until is not null");
    expect(cp.rowCount).toBe(0);
  });

  it("gives up on a persistent 5xx after INBOX_RETRIES, saying what to do", async () => {
    const server = await startScripted(() => ({ status: 502, body: "<html><title>502 Bad Gateway</title></html>", headers: { "content-type": "text/html" } }));
    const db = await createDatabase({ migrate: false });
    cleanup.push(() => server.close(), () => db.drop());
    const run = await cli(["sync"], { INBOX_API_URL: server.url, INBOX_API_TOKEN: TOKEN, DATABASE_URL: db.url, INBOX_RETRIES: "2" });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/502 with an HTML page \("502 Bad Gateway"\).*Gave up after 3 attempts.*checkpoint is unchanged/s);
    expect(server.requests).toHaveLength(3);
  });

  it.each([
    [{ INBOX_API_URL: "ftp://example.com" }, /INBOX_API_URL: must use https/],
    [{ SYNC_LOOKBACK: "ten minutes" }, /SYNC_LOOKBACK: expected a duration/],
    [{ INBOX_FILTERS: "{" }, /INBOX_FILTERS: expected a JSON object/],
    [{ INBOX_API_TOKEN: "" }, /INBOX_API_TOKEN: required/],
    [{ DATABASE_URL: "localhost:5432" }, /DATABASE_URL: expected a PostgreSQL URL/],
  ])("stops on bad configuration %j before any request (exit 2)", async (bad, pattern) => {
    const run = await cli(["sync"], { INBOX_API_TOKEN: TOKEN, DATABASE_URL: "postgresql://u:p@127.0.0.1:1/x", ...bad });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(pattern);
    expect(run.stderr).toMatch(/nothing was requested or written/);
  });

  it("says clearly when the database cannot be reached, without its password", async () => {
    const run = await cli(["sync"], { INBOX_API_TOKEN: TOKEN, DATABASE_URL: "postgresql://user:hunter2secret@127.0.0.1:1/x" });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/Cannot connect to PostgreSQL at postgresql:\/\/user:\*\*\*\*@127\.0\.0\.1:1\/x/);
    expect(run.stderr).not.toContain("hunter2secret");
  });

  it("backfill needs a valid range", async () => {
    const run = await cli(["backfill", "--from", "2024-05-01"], { INBOX_API_TOKEN: TOKEN });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/backfill needs --from <ISO date> and --to <ISO date>/);
    const reversed = await cli(["backfill", "--from", "2024-05-02", "--to", "2024-05-01"], { INBOX_API_TOKEN: TOKEN });
    expect(reversed.stderr).toMatch(/--to must be later than --from/);
  });

  it("demo mirrors the bundled data set, its second run is incremental and points to reconcile; status shows it", async () => {
    const db = await createDatabase({ migrate: false });
    cleanup.push(() => db.drop());
    const { mkdtempSync } = await import("node:fs");
    const dir = mkdtempSync("/tmp/demo-");
    const env = { DATABASE_URL: db.url, CONTACTS_SYNC_DATA_DIR: dir };
    const first = await cli(["demo", "--contacts", "1000"], env);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/demo run 1: .*\nincremental: succeeded/);
    const firstRequests = Number(/requests (\d+)/.exec(first.stdout)![1]);
    const second = await cli(["demo", "--contacts", "1000"], env);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/demo run 2: .*\nincremental: succeeded/);
    const secondRequests = Number(/requests (\d+)/.exec(second.stdout)![1]);
    expect(secondRequests).toBeLessThan(firstRequests / 3);
    expect(Number(/inserted (\d+)/.exec(second.stdout)![1])).toBe(10);
    expect(Number(/updated (\d+)/.exec(second.stdout)![1])).toBe(25);
    expect(second.stdout).toMatch(/5 edited without being seen and 3 deleted/);
    expect(second.stdout).toMatch(/demo --reconcile/);
    // A different size on a later run is not silently ignored.
    const third = await cli(["demo", "--contacts", "2000", "--reconcile", "--json"], env);
    expect(third.code, third.stderr).toBe(0);
    const report = JSON.parse(third.stdout);
    expect(report.notes[0]).toMatch(/--contacts 2000 is not applied: this demo account was created with 1000 contacts/);
    // Two rounds of changes so far (before runs 2 and 3), each deleting 3: the full pass finds every one.
    expect(report.reconcile).toMatchObject({ kind: "reconcile", status: "succeeded", deleted: 6 });
    expect(report.reconcile.updated).toBeGreaterThanOrEqual(5);
    const deleted = await db.pool.query("SELECT count(*)::int AS n FROM contacts WHERE account = 'demo' AND deleted_at IS NOT NULL");
    expect(deleted.rows[0].n).toBe(6);
    // status with no --account lists every account in the database: here the demo's.
    const status = await cli(["status"], env);
    expect(status.stdout).toMatch(/account demo\ncontacts: (\d+) live, 6 marked deleted/);
    expect(Number(/contacts: (\d+) live/.exec(status.stdout)![1])).toBe(report.mirror.live);
    const narrowed = JSON.parse((await cli(["status", "--json", "--account", "nobody"], env)).stdout);
    expect(narrowed.accounts).toEqual([expect.objectContaining({ account: "nobody", contacts: expect.objectContaining({ live: 0 }) })]);
  }, 180_000);
});
