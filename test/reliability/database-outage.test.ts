// The database goes away: a PostgreSQL server of this test's own (PostgreSQL 15 binaries, initdb + pg_ctl)
// is stopped in the middle of `./bin/contacts-sync sync`, once cleanly (pg_ctl -m fast: connections are
// terminated) and once as a crash (-m immediate: no shutdown checkpoint, WAL recovery on the next start).
// Documented behaviour (docs/reliability.md): the CLI run fails at once with exit 1 and a message that says
// the database went away and that the committed pages are kept; nothing is half-written (a page's rows, its
// checkpoint and its run figures commit together or not at all); after the server is back, the next run
// resumes at the checkpoint and completes the mirror. (The worker instead waits for the database and
// retries on its schedule: issue 3's tests.)
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { DEFAULT_SCHEMA } from "../../src/db/schema.js";
import { startApiDouble, type ApiDouble } from "../../src/double/server.js";
import {
  EXACT, TOKEN, checkpointAhead, cli, cliEnv, compareMirror, exactness, observe, runFigures, startCli, startThrowawayPostgres, until,
  type ThrowawayPostgres,
} from "./lib.js";

const START_AT = new Date("2000-01-01T00:00:00Z");
/**
 * What the CLI says when the database goes away mid-run. Whichever connection notices first: the one holding
 * the account lock (the engine stops at a page boundary), or the one writing a page (the CLI names the loss).
 */
const OUTAGE_MESSAGE = new RegExp(
  "^error: (The database connection holding this account's lock ended \\(server restart, failover or a terminated session\\), so the pass " +
    "stopped at a page boundary rather than risk two writers\\. Committed pages and their checkpoint are kept; the next run resumes from there\\." +
    "|The connection to PostgreSQL was lost during the run \\(.+\\)\\. Every page committed before that is kept with its checkpoint; the next run " +
    "resumes from there\\. Check that the database server is running and reachable \\(DATABASE_URL\\)\\.)$",
  "m",
);

let server: ThrowawayPostgres;
let double: ApiDouble;

beforeAll(async () => {
  server = await startThrowawayPostgres();
  double = await startApiDouble({ token: TOKEN, contacts: 1200, pageSize: 20, seed: 31, latencyMs: 8 });
}, 120_000);

afterAll(async () => {
  await double?.close();
  server?.destroy();
});

async function freshDatabase(name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  // The test's own clients name the mirror's tables plainly, as an analyst's login does (docs/sql.md).
  await admin.query(`ALTER DATABASE ${name} SET search_path TO ${DEFAULT_SCHEMA}`);
  await admin.end();
  const url = new URL(server.url);
  url.pathname = `/${name}`;
  return url.toString();
}

async function withClient<T>(url: string, f: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url, application_name: "reliability-test" });
  await c.connect();
  try {
    return await f(c);
  } finally {
    await c.end();
  }
}

describe.sequential("the database goes away mid-run (a PostgreSQL server of the test's own)", () => {
  for (const mode of ["fast", "immediate"] as const) {
    it(`pg_ctl stop -m ${mode} after a few pages: the run fails cleanly, nothing half-written; after a restart the next runs complete the mirror`, async ({ task }) => {
      const url = await freshDatabase(`outage_${mode}`);
      const env = cliEnv(double.url, url, { SYNC_CONCURRENCY: "2" });
      const run = startCli(["sync"], env);
      // Watch from outside until a few pages are committed, then stop the server under the running sync.
      const watcher = new pg.Client({ connectionString: url, application_name: "reliability-test" });
      watcher.on("error", () => undefined);
      await watcher.connect();
      await until(async () => {
        const r = await watcher.query("SELECT coalesce(max(pages), 0)::int AS p FROM sync_runs").catch(() => undefined);
        return (r?.rows[0]?.p ?? 0) >= 5 ? true : undefined;
      }, 60_000, 25);
      server.stop(mode);
      let result;
      try {
        result = await run.done;
      } finally {
        await watcher.end().catch(() => undefined);
        server.start();
      }
      expect(result.code, result.stdout + result.stderr).toBe(1);
      expect(result.stderr, result.stderr.split("\n").filter((l) => !l.startsWith("{")).join("\n")).toMatch(OUTAGE_MESSAGE);
      expect(result.stderr).not.toContain("outage-test"); // the database password
      const message = result.stderr.split("\n").find((l) => l.startsWith("error:"))!;

      // Nothing half-written: every contact row came with the figures of the page that wrote it, and the
      // checkpoint covers only what is there.
      const state = await withClient(url, async (c) => ({ figures: await runFigures(c), ahead: await checkpointAhead(c, double, START_AT) }));
      expect(state.figures.contacts).toBe(state.figures.inserted);
      expect(state.figures.contacts).toBeGreaterThan(0);
      expect(state.ahead.violations).toEqual([]);
      expect(state.ahead.state.incremental?.syncedUntil ?? null).toBeNull();

      const next = await cli(["sync"], env);
      expect(next.code, next.stderr).toBe(0);
      expect(next.stderr).toMatch(/resuming the window of an interrupted run/);
      const reconcile = await cli(["reconcile"], env);
      expect(reconcile.code, reconcile.stderr).toBe(0);
      const end = await withClient(url, async (c) => ({
        cmp: await compareMirror(c, double),
        runs: (await c.query<{ status: string; error: string | null }>("SELECT status, error FROM sync_runs ORDER BY id")).rows,
      }));
      expect(exactness(end.cmp)).toEqual(EXACT);
      // The interrupted run could not record its end (the database was gone); the next run closed it.
      expect(end.runs[0]).toMatchObject({ status: "failed", error: expect.stringMatching(/run was never closed/) });
      expect(end.runs.slice(1).map((r) => r.status)).toEqual(["succeeded", "succeeded"]);
      observe(task, `${message.slice(0, 200)}… | ${state.figures.contacts} contacts kept, checkpoint consistent; next sync resumed, reconcile exact (${end.cmp.live} live)`);
    });
  }

  it("the database is down when the run starts: exit 1 before any request, saying which server", async ({ task }) => {
    server.stop("fast");
    try {
      const before = double.stats.requests;
      const result = await cli(["sync"], cliEnv(double.url, server.url));
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/Cannot connect to PostgreSQL at postgresql:\/\/postgres:\*\*\*\*@127\.0\.0\.1:\d+\/postgres: .*nothing was requested or written/);
      expect(double.stats.requests).toBe(before);
      observe(task, result.stderr.trim().slice(0, 220));
    } finally {
      server.start();
    }
  });
});
