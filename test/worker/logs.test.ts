// A whole worker life at LOG_LEVEL=debug, as a real process: passes with retried faults, a token revoked
// mid-life (401 on every pass, reported loudly each time, backing off, visible in /healthz and /metrics),
// and the rotated token picked up from INBOX_API_TOKEN_FILE without a restart. No output line may contain
// either token or an Authorization header value.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { freePort } from "../../src/db/embedded.js";
import { startApiDouble } from "../../src/double/server.js";
import { createDatabase } from "../helpers/db.js";
import { TOKEN } from "../helpers/sync.js";
import { get, NEVER, parsePrometheus, spawnWorker, value, waitFor } from "./helpers.js";

const ROTATED = "rotated-token-8c41d09e7f3b";

let cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

describe("worker logs", () => {
  it("never contain the token; a revoked token is loud on every pass, backs off, and a rotated one is picked up", async () => {
    const double = await startApiDouble({ token: TOKEN, contacts: 300, pageSize: 50, faults: { rate: 0.3, kinds: ["429", "500-html"], retryAfterSeconds: 0 } });
    const db = await createDatabase({ migrate: false });
    const dir = mkdtempSync(join(tmpdir(), "contacts-sync-secret-"));
    const tokenFile = join(dir, "inbox_api_token");
    writeFileSync(tokenFile, `${TOKEN}\n`);
    cleanup.push(() => double.close(), () => db.drop(), async () => rmSync(dir, { recursive: true, force: true }));
    const port = await freePort();
    const worker = spawnWorker({
      INBOX_API_URL: double.url, INBOX_API_TOKEN_FILE: tokenFile, DATABASE_URL: db.url, SYNC_LAG: "0", SYNC_START_AT: "2000-01-01",
      SYNC_CRON: "*/1 * * * * *", RECONCILE_CRON: NEVER, HTTP_PORT: String(port), LOG_LEVEL: "debug", INBOX_RETRIES: "8",
    });
    cleanup.push(async () => {
      if (worker.child.exitCode === null && worker.child.signalCode === null) worker.signal("SIGKILL");
      await worker.exit;
    });
    const logs = () => worker.logs();
    const metrics = async () => parsePrometheus((await get(port, "/metrics")).text).samples;

    await waitFor("a pass with retries", () => logs().some((l) => l.msg === "incremental run finished" && (l.retries as number) > 0));
    expect(logs().some((l) => l.msg === "retrying inbox request" && l.level === 20)).toBe(true);

    // The key is revoked: every pass fails with 401 until the secret is replaced.
    double.setOptions({ token: ROTATED, faults: undefined });
    const loud = () => logs().filter((l) => l.level === 50 && String(l.msg).startsWith("THE INBOX API REFUSES THE TOKEN"));
    // Two failures in a row: the next tick is skipped (back-off), visible in the metrics and in /healthz.
    const m = await waitFor("a tick skipped by the back-off", async () => {
      const samples = await metrics();
      return (value(samples, "contacts_sync_ticks_skipped_total", { kind: "incremental", reason: "backoff" }) ?? 0) >= 1 ? samples : undefined;
    });
    expect(value(m, "contacts_sync_run_failures_total", { kind: "incremental", reason: "auth" })).toBeGreaterThanOrEqual(2);
    expect(value(m, "contacts_sync_consecutive_failures", { kind: "incremental" })).toBeGreaterThanOrEqual(2);
    expect(value(m, "contacts_sync_api_requests_total", { status: "401" })).toBeGreaterThanOrEqual(2);
    const health = (await get(port, "/healthz")).json();
    expect(health.passes.incremental.consecutiveFailures).toBeGreaterThanOrEqual(2);
    expect(health.passes.incremental.lastOutcome).toBe("failed");
    expect(loud().length).toBeGreaterThanOrEqual(2);
    expect(logs().some((l) => /backing off: the next \d+ tick\(s\) are skipped/.test(String(l.msg)))).toBe(true);
    expect(worker.child.exitCode).toBeNull();

    // Rotation: the new key is written to the secret file; the next attempt uses it, no restart.
    writeFileSync(tokenFile, ROTATED);
    await waitFor("a pass with the rotated token", () => logs().some((l) => l.msg === "INBOX_API_TOKEN_FILE holds a new token; using it from this pass on"));
    await waitFor("success", async () => value(await metrics(), "contacts_sync_consecutive_failures", { kind: "incremental" }) === 0);
    expect((await get(port, "/readyz")).status).toBe(200);

    worker.signal("SIGTERM");
    expect((await worker.exit).code).toBe(0);

    // One loud line per failed pass, next to the pass's own error line.
    expect(loud().length).toBe(logs().filter((l) => l.msg === "incremental run failed").length);
    expect(worker.lines.length).toBeGreaterThan(20);
    const leaks = worker.lines.filter((line) => line.includes(TOKEN) || line.includes(ROTATED) || /bearer\s+\S/i.test(line));
    expect(leaks).toEqual([]);
    // Every line is a JSON log line: nothing printed around the logger.
    expect(worker.lines.filter((line) => line.trim() !== "" && !line.startsWith("{"))).toEqual([]);
  }, 120_000);

  it("a long pass logs its progress every PROGRESS_INTERVAL", async () => {
    const double = await startApiDouble({ token: TOKEN, contacts: 600, pageSize: 20, latencyMs: 100 });
    const db = await createDatabase({ migrate: false });
    cleanup.push(() => double.close(), () => db.drop());
    const worker = spawnWorker({
      INBOX_API_URL: double.url, INBOX_API_TOKEN: TOKEN, DATABASE_URL: db.url, SYNC_LAG: "0", SYNC_START_AT: "2000-01-01",
      SYNC_CRON: NEVER, RECONCILE_CRON: NEVER, HTTP_PORT: "0", SYNC_CONCURRENCY: "1", PROGRESS_INTERVAL: "1s",
    });
    cleanup.push(async () => {
      if (worker.child.exitCode === null && worker.child.signalCode === null) worker.signal("SIGKILL");
      await worker.exit;
    });
    const progress = () => worker.logs().filter((l) => String(l.msg).startsWith("progress: "));
    await waitFor("progress with pages in it", () => progress().some((l) => (l.pages as number) > 0) || undefined);
    expect(progress().at(-1)).toMatchObject({ level: 30, kind: "incremental", concurrency: 1 });
    worker.signal("SIGTERM");
    expect((await worker.exit).code).toBe(0);
  }, 120_000);
});
