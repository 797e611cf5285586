// `./bin/contacts-sync check` as a user runs it, against the API double playing each reality of the
// undocumented API (and a few combinations), and against what is not the API at all. Needs the build.
import http from "node:http";
import net from "node:net";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { startApiDouble, type ApiBehaviour, type DoubleOptions } from "../../src/double/server.js";
import { cli } from "../helpers/cli.js";
import { createDatabase, type TestDatabase } from "../helpers/db.js";
import { startScripted } from "../helpers/scripted.js";
import { TOKEN } from "../helpers/sync.js";

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function database(): Promise<TestDatabase> {
  const db = await createDatabase({ migrate: false });
  cleanup.push(() => db.drop());
  return db;
}

function env(url: string, db: TestDatabase, extra: Record<string, string> = {}): Record<string, string> {
  return { INBOX_API_URL: url, INBOX_API_TOKEN: TOKEN, DATABASE_URL: db.url, INBOX_RETRIES: "2", ...extra };
}

async function checkAgainst(behaviour: ApiBehaviour, options: Partial<DoubleOptions> = {}, args = ["--json"]) {
  const double = await startApiDouble({ token: TOKEN, contacts: 300, pageSize: 50, behaviour, ...options });
  cleanup.push(() => double.close());
  const db = await database();
  const run = await cli(["check", ...args], env(double.url, db));
  return { run, db, double };
}

async function storedRow(db: TestDatabase) {
  const rows = await db.prisma.$queryRaw<{ ok: boolean; profile: { order: { field: string; direction: string } | null }; strategy: { ok: boolean } }[]>`
    SELECT ok, profile, strategy FROM api_profiles WHERE account = 'default'`;
  return rows[0];
}

/** Nothing at all was written: not even the schema (check migrates only after a completed probe). */
async function tables(db: TestDatabase): Promise<string[]> {
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  try {
    return (await c.query<{ t: string }>("select tablename as t from pg_tables where schemaname = 'public'")).rows.map((r) => r.t);
  } finally {
    await c.end();
  }
}

const SAFE_GUESS = {
  ok: true, pageSize: 50, order: "createdAt desc", stableTies: true, shortPagesMidList: false, bothBoundsRequired: false,
  boundPrecisionMs: 1, boundsInclusive: true, unlistedFiltersApplied: false,
};

// Each reality alone, then combinations: what check must report (on top of the guess where not said otherwise).
const REALITIES: { name: string; behaviour: ApiBehaviour; options?: Partial<DoubleOptions>; expect: Record<string, unknown>; strategy?: Record<string, unknown> }[] = [
  { name: "the documented guess", behaviour: {}, expect: {}, strategy: { order: { field: "createdAt", direction: "desc" }, quantumMs: 1, bothBounds: false, endOnEmptyPage: false, unstableTies: false } },
  { name: "clock 15 min ahead", behaviour: { clockSkewMs: 900_000 }, expect: {} },
  { name: "clock 15 min behind", behaviour: { clockSkewMs: -900_000 }, expect: {} },
  { name: "newest first by lastSeenAt", behaviour: { order: "lastSeenAt desc" }, options: { lastSeenTies: 8 }, expect: { order: "lastSeenAt desc" }, strategy: { order: { field: "lastSeenAt", direction: "desc" } } },
  { name: "oldest first by lastSeenAt", behaviour: { order: "lastSeenAt asc" }, expect: { order: "lastSeenAt asc" } },
  { name: "oldest first by createdAt", behaviour: { order: "createdAt asc" }, expect: { order: "createdAt asc" } },
  { name: "unstable ties", behaviour: { unstableTies: true }, expect: { stableTies: false }, strategy: { unstableTies: true } },
  { name: "short pages mid-list", behaviour: { postFilter: true }, expect: { shortPagesMidList: true }, strategy: { endOnEmptyPage: true } },
  { name: "one-sided ranges ignored", behaviour: { bothBoundsRequired: true }, expect: { bothBoundsRequired: true }, strategy: { bothBounds: true } },
  { name: "bounds at whole seconds", behaviour: { boundPrecisionMs: 1000 }, expect: { boundPrecisionMs: 1000, boundsInclusive: null }, strategy: { quantumMs: 1000 } },
  { name: "bounds at whole days", behaviour: { boundPrecisionMs: 86_400_000 }, expect: { boundPrecisionMs: 86_400_000, boundsInclusive: null }, strategy: { quantumMs: 86_400_000 } },
  { name: "exclusive bounds", behaviour: { boundsInclusive: false }, expect: { boundsInclusive: false } },
  { name: "rate-limited", behaviour: { rateLimit: { limit: 8, windowMs: 500, retryAfter: "date" } }, expect: { rateLimit: expect.objectContaining({ limit: 8 }) } },
  {
    name: "unlisted filters applied",
    behaviour: { unlistedFiltersApplied: true },
    // Only the contacts matching the flags list: too few pages left to judge short pages.
    expect: { ok: false, unlistedFiltersApplied: true, shortPagesMidList: null, strategy: null, reasons: [expect.stringMatching(/applies filter values that are sent but not listed/)] },
  },
  {
    name: "lastSeenAt desc, unstable ties, both bounds required, seconds, clock behind",
    behaviour: { order: "lastSeenAt desc", unstableTies: true, bothBoundsRequired: true, boundPrecisionMs: 1000, clockSkewMs: -900_000 },
    options: { lastSeenTies: 8 },
    expect: { order: "lastSeenAt desc", stableTies: false, bothBoundsRequired: true, boundPrecisionMs: 1000, boundsInclusive: null },
    strategy: { order: { field: "lastSeenAt", direction: "desc" }, unstableTies: true, bothBounds: true, quantumMs: 1000 },
  },
  { name: "short pages and unstable ties together", behaviour: { postFilter: true, unstableTies: true }, expect: { ok: false, shortPagesMidList: true, stableTies: false, reasons: [expect.stringMatching(/neither be counted nor read to a proven end/)] } },
  { name: "createdAt asc, exclusive bounds, clock ahead, rate-limited", behaviour: { order: "createdAt asc", boundsInclusive: false, clockSkewMs: 900_000, rateLimit: { limit: 10, windowMs: 500 } }, expect: { order: "createdAt asc", boundsInclusive: false } },
];

describe("check --json reports each reality of the API", () => {
  it.each(REALITIES)("$name", async ({ behaviour, options, expect: expected, strategy }) => {
    const { run, db, double } = await checkAgainst(behaviour, options);
    const report = JSON.parse(run.stdout);
    const want = { ...SAFE_GUESS, ...expected };
    expect(report).toMatchObject(want);
    expect(run.code).toBe(want.ok ? 0 : 1);
    for (const key of ["clockSkewMs", "strategy", "requests", "responseMs", "notes", "measuredAt"]) expect(report).toHaveProperty(key);
    if (strategy) expect(report.strategy).toMatchObject(strategy);
    // The API's clock minus ours, from its Date header: the double's skew, within the header's second and noise.
    expect(Math.abs(report.clockSkewMs - (behaviour.clockSkewMs ?? 0))).toBeLessThan(2_000);
    if (Math.abs(behaviour.clockSkewMs ?? 0) >= 2_000) {
      expect(report.strategy?.decisions ?? []).toContainEqual(expect.stringMatching(/API's clock/));
    }
    expect(report.requests).toBeLessThanOrEqual(40);
    expect(double.stats.requests).toBe(report.requests);
    expect(double.stats.byStatus["429"] ?? 0).toBe(0); // spaced by the rate-limit headers, not by meeting 429s
    // Stored per account with its verdict, unsafe ones included.
    const stored = await storedRow(db);
    expect(stored?.ok).toBe(want.ok);
    expect(stored?.strategy.ok).toBe(want.ok);
  });
});

describe("check in words", () => {
  it("fits one screen and ends with what the sync will do; status shows the stored profile", async () => {
    const { run, db } = await checkAgainst({ clockSkewMs: 900_000 }, {}, []);
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split("\n");
    expect(lines.length).toBeLessThanOrEqual(24);
    expect(run.stdout).toMatch(/^ {2}order +createdAt desc$/m);
    expect(run.stdout).toMatch(/^ {2}clock skew +\+15\.0 min/m);
    expect(lines.at(-1)).toMatch(/^OK: the sync will seek on createdAt desc; .*windows planned on the API's clock \(\+15\.0 min\)/);
    const status = await cli(["status"], { DATABASE_URL: db.url });
    expect(status.stdout).toMatch(/^api checked \d+ s ago: safe, order createdAt desc, clock skew \+15\.0 min$/m);
  });

  it("says NOT SAFE and why, exits 1, and stores the verdict for status", async () => {
    const { run, db } = await checkAgainst({ unlistedFiltersApplied: true }, {}, []);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^ {2}unlisted filters +APPLIED$/m);
    expect(run.stdout.trimEnd().split("\n").at(-1)).toMatch(/^NOT SAFE: The API applies filter values that are sent but not listed/);
    const status = await cli(["status", "--json"], { DATABASE_URL: db.url });
    expect(JSON.parse(status.stdout).accounts[0].apiProfile).toMatchObject({ ok: false, order: "createdAt desc" });
  });
});

describe("check against what is not the API writes nothing", () => {
  async function expectNothingWritten(db: TestDatabase) {
    expect(await tables(db)).toEqual([]);
  }

  it("a refused port: says it could not be reached, exits 1", async () => {
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, "127.0.0.1", () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const db = await database();
    const run = await cli(["check", "--json"], env(`http://127.0.0.1:${port}`, db, { INBOX_RETRIES: "0" }));
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/check could not measure the API at http:\/\/127\.0\.0\.1:\d+: The inbox API at http:\/\/127\.0\.0\.1:\d+ refused the connection .*check INBOX_API_URL.*Nothing was stored/);
    // --json: still exactly one object on stdout.
    expect(JSON.parse(run.stdout)).toMatchObject({ ok: false, error: expect.stringMatching(/refused the connection/) });
    await expectNothingWritten(db);
  });

  it("a wrong token: says the token was refused, after one request", async () => {
    const double = await startApiDouble({ token: "the-real-token-42", contacts: 50 });
    cleanup.push(() => double.close());
    const db = await database();
    const run = await cli(["check"], env(double.url, db));
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/answered 401.*refused the token.*INBOX_API_TOKEN/s);
    expect(run.stderr).not.toContain(TOKEN);
    expect(run.stdout).toBe("");
    expect(double.stats.requests).toBe(1);
    await expectNothingWritten(db);
  });

  it("an HTML page where the API should be: names it", async () => {
    const page = '<!DOCTYPE html><html><head><title>Welcome to nginx!</title></head><body>It works</body></html>';
    const server = await startScripted(() => ({ status: 200, body: page, headers: { "content-type": "text/html" } }));
    cleanup.push(() => server.close());
    const db = await database();
    const run = await cli(["check"], env(server.url, db, { INBOX_RETRIES: "1" }));
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/answered 200 with an HTML page \("Welcome to nginx!"\) instead of JSON/);
    expect(server.requests.length).toBe(2); // one request and its one retry: nothing further was probed
    await expectNothingWritten(db);
  });

  it("an API that never answers: says it timed out", async () => {
    const sockets = new Set<net.Socket>();
    const server = http.createServer(() => undefined); // reads the request, never answers
    server.on("connection", (s) => sockets.add(s));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    cleanup.push(() => new Promise((resolve) => { for (const s of sockets) s.destroy(); server.close(() => resolve()); }));
    const db = await database();
    const url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    const run = await cli(["check"], env(url, db, { INBOX_RETRIES: "0", INBOX_TIMEOUT: "1s" }));
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/no answer within INBOX_TIMEOUT/);
    await expectNothingWritten(db);
  });

  it("bad configuration: exits 2 before any request", async () => {
    const db = await database();
    const run = await cli(["check"], env("http://api.example.com", db));
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/INBOX_API_URL: must use https:\/\//);
    await expectNothingWritten(db);
  });
});
