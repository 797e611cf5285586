// Faults: the double answers 20% of requests at random with a fault of every kind it knows (429 with and
// without Retry-After, 500/502/503 with HTML bodies, connection resets, truncated JSON, HTML with 200, and
// answers slower than the client's timeout). The sync finishes, the mirror is exact, and the retries stay
// within the budget: no request is tried more than INBOX_RETRIES + 1 times, and there is exactly one retry
// per injected fault (no retry without a fault, no fault left unretried).
import { afterEach, describe, expect, it } from "vitest";
import type pg from "pg";
import { InboxClient } from "../../src/api/client.js";
import { startApiDouble, FAULT_KINDS, type ApiDouble, type DoubleOptions } from "../../src/double/server.js";
import { runIncremental, runReconcile, type SyncContext } from "../../src/sync/runPass.js";
// These tests know their API (the double as documented): they read with that strategy instead of measuring it first.
import { guessedStrategy } from "../../src/sync/strategy.js";
import { createDatabase, type TestDatabase } from "../helpers/db.js";
import { quietLogger } from "../helpers/logs.js";
import { EXACT, TOKEN, checkpointAhead, cli, cliEnv, compareMirror, exactness, observe, size, testPool } from "./lib.js";

const START_AT = new Date("2000-01-01T00:00:00Z");
let cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

/** Attempts per distinct request body, as the double received them. */
function countAttempts(): { attempts: Map<string, number>; hook: NonNullable<DoubleOptions["beforeAnswer"]> } {
  const attempts = new Map<string, number>();
  return {
    attempts,
    hook: (req) => {
      if (req.page === 0) return;
      const key = JSON.stringify(req.body);
      attempts.set(key, (attempts.get(key) ?? 0) + 1);
    },
  };
}

async function setup(double: ApiDouble, retries: number, timeoutMs: number, concurrency: number): Promise<{ ctx: SyncContext; client: InboxClient; db: TestDatabase; pool: pg.Pool }> {
  const db = await createDatabase();
  db.pool.options.max = concurrency + 3;
  const client = new InboxClient({
    baseUrl: new URL(double.url), token: TOKEN, filters: {}, timeoutMs, retries, logger: quietLogger(),
    minBackoffMs: 5, maxBackoffMs: 40, maxRetryAfterMs: 40,
  });
  const pool = testPool(db.url);
  cleanup.push(() => client.close(), () => pool.end(), () => db.drop());
  const ctx: SyncContext = { db, client, logger: quietLogger(), config: { account: "default", startAt: START_AT, lookbackMs: 0, lagMs: 0, concurrency }, strategy: guessedStrategy() };
  return { ctx, client, db, pool };
}

describe("faults: 20% of requests fail at random, every fault kind", () => {
  it.for([
    { concurrency: 1, retries: 8 },
    { concurrency: 4, retries: 8 },
  ])("sync + reconcile with SYNC_CONCURRENCY=$concurrency, INBOX_RETRIES=$retries: exact mirror, one retry per fault, none beyond the budget", async ({ concurrency, retries }, { task }) => {
    const { attempts, hook } = countAttempts();
    const double = await startApiDouble({
      token: TOKEN, contacts: size(1500, 6000), pageSize: 30, seed: 3 + concurrency,
      faults: { rate: 0.2, kinds: [...FAULT_KINDS], slowMs: 1000, retryAfterSeconds: 1 },
      beforeAnswer: hook,
    });
    cleanup.push(() => double.close());
    const { ctx, client, pool } = await setup(double, retries, 300, concurrency);

    const sync = await runIncremental(ctx);
    expect(sync.status).toBe("succeeded");
    expect((await checkpointAhead(pool, double, START_AT)).violations).toEqual([]);
    const rec = await runReconcile(ctx);
    expect(rec.status).toBe("succeeded");
    expect(exactness(await compareMirror(pool, double))).toEqual(EXACT);

    const faults = double.stats.faults;
    expect(faults).toBeGreaterThan(10);
    // One retry per injected fault, and none without one.
    expect(client.retries).toBe(faults);
    // Per request: at most INBOX_RETRIES retries.
    const most = Math.max(...attempts.values());
    expect(most).toBeLessThanOrEqual(retries + 1);
    // The run log holds the same figures.
    const runs = (await pool.query<{ retries: number; requests: number }>("SELECT retries, requests FROM sync_runs ORDER BY id")).rows;
    expect(runs.reduce((a, r) => a + r.retries, 0)).toBe(client.retries);
    expect(runs.reduce((a, r) => a + r.requests, 0)).toBe(client.requests);
    const kinds = Object.keys(double.stats.byStatus).sort().join(", ");
    observe(task, `${faults} faults injected over ${client.requests} attempts (${attempts.size} distinct requests); ${client.retries} retries, at most ${most - 1} for one request (budget ${retries}); answers seen: ${kinds}; mirror exact`);
  });

  it("a request that fails more often than INBOX_RETRIES allows: the run fails after exactly INBOX_RETRIES + 1 attempts, keeps its pages, and the next run completes", async ({ task }) => {
    const { attempts, hook } = countAttempts();
    let storm = false;
    const double = await startApiDouble({
      token: TOKEN, contacts: 600, pageSize: 25, seed: 9,
      beforeAnswer: (req, d) => {
        hook(req, d);
        // From the 6th request on, every answer is a 503 until the test lifts it.
        if (req.n === 6) storm = true;
        d.setOptions({ faults: storm ? { rate: 1, kinds: ["503-html"] } : undefined });
      },
    });
    cleanup.push(() => double.close());
    const retries = 3;
    const { ctx, client, pool } = await setup(double, retries, 2000, 1);
    const error = (await runIncremental(ctx).then(() => undefined, (e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toMatch(/The inbox API answered 503 with an HTML page \("503 Service Temporarily Unavailable"\)\. Gave up after 4 attempts\. Nothing of this page was written and the checkpoint is unchanged/);
    const failing = [...attempts.values()].filter((n) => n > 1);
    expect(failing).toEqual([retries + 1]);
    expect(client.retries).toBe(retries);
    const kept = await compareMirror(pool, double, "default", (c) => c.lastSeenAt != null);
    expect(kept.live).toBeGreaterThan(0);
    expect((await checkpointAhead(pool, double, START_AT)).violations).toEqual([]);
    const run = (await pool.query("SELECT status, error FROM sync_runs")).rows[0];
    expect(run.status).toBe("failed");
    expect(run.error).toMatch(/Gave up after 4 attempts/);

    storm = false;
    const next = await runIncremental(ctx);
    expect(next.status).toBe("succeeded");
    expect(exactness(await compareMirror(pool, double, "default", (c) => c.lastSeenAt != null))).toEqual(EXACT);
    observe(task, `failed with "${error.message.slice(0, 90)}…" after ${retries + 1} attempts of one request; ${kept.live} contacts kept; the next run resumed and completed`);
  });

  it("through the CLI (INBOX_RETRIES=6, INBOX_TIMEOUT=1s, Retry-After honoured): sync and reconcile finish exact, one debug line per retry", async ({ task }) => {
    const { attempts, hook } = countAttempts();
    const double = await startApiDouble({
      token: TOKEN, contacts: 400, pageSize: 40, seed: 21,
      faults: { rate: 0.2, kinds: [...FAULT_KINDS], slowMs: 1500, retryAfterSeconds: 1 },
      beforeAnswer: hook,
    });
    const db = await createDatabase({ migrate: false });
    const pool = testPool(db.url);
    cleanup.push(() => double.close(), () => pool.end(), () => db.drop());
    const env = cliEnv(double.url, db.url, { INBOX_RETRIES: "6", INBOX_TIMEOUT: "1s", LOG_LEVEL: "debug" });
    const sync = await cli(["sync"], env);
    expect(sync.code, sync.stderr).toBe(0);
    const reconcile = await cli(["reconcile"], env);
    expect(reconcile.code, reconcile.stderr).toBe(0);
    expect(exactness(await compareMirror(pool, double))).toEqual(EXACT);
    const retryLines = (sync.stderr + reconcile.stderr).split("\n").filter((l) => l.includes('"msg":"retrying inbox request"')).length;
    const runs = (await pool.query<{ retries: number }>("SELECT retries FROM sync_runs")).rows;
    const retried = runs.reduce((a, r) => a + r.retries, 0);
    expect(retried).toBe(double.stats.faults);
    expect(retryLines).toBe(retried);
    expect(Math.max(...attempts.values())).toBeLessThanOrEqual(7);
    observe(task, `${double.stats.faults} faults, ${retried} retries recorded in sync_runs, ${retryLines} "retrying inbox request" debug lines; mirror exact`);
  });
});
