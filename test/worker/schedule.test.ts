// The worker in-process against a real PostgreSQL and the API double: the schedule (seconds-field cron, so
// nothing waits for wall-clock minutes), one pass at a time, and /metrics against what the passes did.
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { freePort } from "../../src/db/embedded.js";
import { startApiDouble, type ApiDouble } from "../../src/double/server.js";
import { startWorker, type Worker } from "../../src/worker/worker.js";
import { createDatabase, type TestDatabase } from "../helpers/db.js";
import { capturingLogger } from "../helpers/logs.js";
import { mirror, source, TOKEN } from "../helpers/sync.js";
import { get, NEVER, overlaps, parsePrometheus, value, waitFor } from "./helpers.js";

let cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function setup(doubleOptions: Partial<Parameters<typeof startApiDouble>[0]>, env: Record<string, string>) {
  const double: ApiDouble = await startApiDouble({ token: TOKEN, ...doubleOptions });
  const db: TestDatabase = await createDatabase({ migrate: false });
  const port = await freePort();
  const { logger, lines } = capturingLogger("debug");
  const config = loadConfig({
    INBOX_API_URL: double.url, INBOX_API_TOKEN: TOKEN, DATABASE_URL: db.url, SYNC_LAG: "0", SYNC_START_AT: "2000-01-01",
    HTTP_PORT: String(port), ...env,
  });
  const worker: Worker = await startWorker(config, logger, { clientOptions: { minBackoffMs: 5, maxBackoffMs: 20, maxRetryAfterMs: 20 } });
  cleanup.push(() => double.close(), () => db.drop(), () => worker.stop());
  return { double, db, port, worker, lines };
}

const runsOf = async (db: TestDatabase) =>
  (await db.pool.query<{ id: string; kind: string; status: string; started_at: Date; finished_at: Date | null }>(
    "select id::text, kind, status, started_at, finished_at from sync_runs order by id",
  )).rows;

describe("worker schedule", () => {
  it("runs an incremental pass at start, then both schedules, one pass at a time and never overlapping", async () => {
    // Slow answers make each pass outlast the one-second ticks: ticks arrive while a pass runs.
    const { double, db, port, worker, lines } = await setup(
      { contacts: 400, pageSize: 50, latencyMs: 250 },
      { SYNC_CRON: "*/1 * * * * *", RECONCILE_CRON: "*/3 * * * * *" },
    );
    await worker.started;
    // (The next test shows the start-up pass with no ticks at all.)
    const first = await waitFor("the start-up pass", async () => (await runsOf(db))[0]);
    expect(first.kind).toBe("incremental");

    await waitFor("a few passes of each kind", async () => {
      const runs = await runsOf(db);
      const done = (kind: string) => runs.filter((r) => r.kind === kind && r.status === "succeeded").length;
      return done("incremental") >= 3 && done("reconcile") >= 1;
    }, 30_000, 100);
    const metrics = parsePrometheus((await get(port, "/metrics")).text).samples;
    await worker.stop();

    const runs = await runsOf(db);
    expect(overlaps(runs)).toEqual([]); // one at a time, across both kinds
    expect(runs.every((r) => r.status === "succeeded" || r.status === "stopped")).toBe(true);
    // Ticks that came while a pass of the same kind ran or waited were dropped, not stacked up.
    expect(value(metrics, "contacts_sync_ticks_skipped_total", { kind: "incremental", reason: "busy" })).toBeGreaterThan(0);
    expect(lines.filter((l) => JSON.parse(l).level >= 50)).toEqual([]);
    expect(lines.some((l) => l.includes("scheduled tick skipped: this pass is still running or queued"))).toBe(true);
    // A reconcile ran: every contact is mirrored, seen or not.
    expect((await mirror(db)).size).toBe(source(double).size);
  }, 120_000);

  it("runs one pass at start with no tick due, and serves /metrics whose counters match what it did", async () => {
    const { double, db, port, worker } = await setup(
      { contacts: 600, pageSize: 40, faults: { rate: 0.25, kinds: ["429", "500-html", "503-html"], retryAfterSeconds: 1 } },
      { SYNC_CRON: NEVER, RECONCILE_CRON: NEVER, INBOX_RETRIES: "10" },
    );
    await worker.started;
    const metricsNow = async () => parsePrometheus((await get(port, "/metrics")).text);
    const { samples, types } = await waitFor("the start-up pass to finish", async () => {
      const m = await metricsNow();
      return value(m.samples, "contacts_sync_runs_total", { kind: "incremental", outcome: "succeeded" }) === 1 &&
        value(m.samples, "contacts_sync_run_in_progress", { kind: "incremental" }) === 0 ? m : undefined;
    });
    const response = await get(port, "/metrics");
    expect(response.status).toBe(200);
    expect(response.type).toMatch(/^text\/plain; version=0\.0\.4/);

    const run = (await db.pool.query("select * from sync_runs")).rows;
    expect(run).toHaveLength(1);
    const r = run[0];
    expect(r.status).toBe("succeeded");
    const count = (name: string, labels: Record<string, string>) => value(samples, name, labels);
    expect(types.get("contacts_sync_runs_total")).toBe("counter");
    expect(types.get("contacts_sync_run_duration_seconds")).toBe("histogram");
    expect(count("contacts_sync_run_duration_seconds_count", { kind: "incremental", outcome: "succeeded" })).toBe(1);
    expect(count("contacts_sync_pages_total", { kind: "incremental" })).toBe(r.pages);
    expect(count("contacts_sync_contacts_received_total", { kind: "incremental" })).toBe(r.received);
    expect(count("contacts_sync_contacts_total", { kind: "incremental", result: "inserted" })).toBe(r.inserted);
    expect(count("contacts_sync_contacts_total", { kind: "incremental", result: "updated" })).toBe(r.updated);
    expect(count("contacts_sync_contacts_total", { kind: "incremental", result: "unchanged" })).toBe(r.unchanged);
    expect(count("contacts_sync_contacts_total", { kind: "incremental", result: "deleted" })).toBe(0);
    expect(r.inserted).toBe((await mirror(db)).size);
    expect(r.inserted).toBeGreaterThan(0);

    // Requests by status code: the sum matches the run's own count, and each status the double's.
    const byStatus = samples.filter((s) => s.name === "contacts_sync_api_requests_total");
    expect(byStatus.reduce((sum, s) => sum + s.value, 0)).toBe(r.requests);
    for (const [status, n] of Object.entries(double.stats.byStatus)) {
      expect(count("contacts_sync_api_requests_total", { status }), `status ${status}`).toBe(n);
    }
    const faults = (double.stats.byStatus["429"] ?? 0) + (double.stats.byStatus["500"] ?? 0) + (double.stats.byStatus["503"] ?? 0);
    expect(faults).toBeGreaterThan(0);
    const retries = samples.filter((s) => s.name === "contacts_sync_api_retries_total").reduce((sum, s) => sum + s.value, 0);
    expect(retries).toBe(r.retries);
    expect(retries).toBe(faults);

    const checkpoint = (await db.pool.query("select synced_until, last_completed_at from sync_checkpoints where kind = 'incremental'")).rows[0];
    expect(count("contacts_sync_last_success_timestamp_seconds", { kind: "incremental" })).toBeCloseTo(checkpoint.last_completed_at.getTime() / 1000, 2);
    const lag = count("contacts_sync_checkpoint_lag_seconds", {})!;
    expect(Math.abs(lag - (Date.now() - checkpoint.synced_until.getTime()) / 1000)).toBeLessThan(5);
    // Default process metrics are there too; no label value carries the token.
    expect(samples.some((s) => s.name === "process_cpu_user_seconds_total")).toBe(true);
    expect(samples.some((s) => s.name.startsWith("nodejs_"))).toBe(true);
    expect(response.text).not.toContain(TOKEN);
  }, 120_000);
});
