// `npm run bench:accounts`: many accounts on one worker (issue 13). One API host (the double, in a process of
// its own) serves N accounts, each configured in ACCOUNTS_FILE with its own token file (the double accepts one
// token, so the files hold the same one: the host and its budget are what is measured), and one worker process
// (`bin/contacts-sync worker`, the built dist/, default SYNC_ACCOUNTS_CONCURRENCY and INBOX_HOST_CONCURRENCY)
// makes the first sync of every account. Reported, not asserted: total time until every account's first
// incremental pass has succeeded, the worker's peak RSS, the most requests the API saw in flight at once and
// the worker's own count of it, against the per-host cap. The figures go to stdout (and --json); docs/benchmarks.md
// keeps the row by hand.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { freePort } from "../src/db/embedded.js";
import { BENCH_TOKEN, startDouble } from "./double.js";
import { ROOT } from "./paths.js";
import { startServer } from "./postgres.js";

const { values } = parseArgs({
  options: {
    accounts: { type: "string", default: "200" },
    contacts: { type: "string", default: "2000" },
    "page-size": { type: "string", default: "100" },
    "latency-ms": { type: "string", default: "0" },
    json: { type: "string" },
  },
});
const accounts = Number(values.accounts);
const contacts = Number(values.contacts);
const NEVER = "0 0 1 1 *";

const server = await startServer();
const double = await startDouble({ contacts, pageSize: Number(values["page-size"]), latencyMs: Number(values["latency-ms"]), seed: 1 });
const dir = mkdtempSync(join(tmpdir(), "contacts-sync-bench-accounts-"));
const dbUrl = await server.createDatabase("accounts");
const pool = new pg.Pool({ connectionString: dbUrl, max: 1 });
try {
  writeFileSync(join(dir, "token"), BENCH_TOKEN);
  const names = Array.from({ length: accounts }, (_, i) => `client-${String(i + 1).padStart(4, "0")}`);
  writeFileSync(join(dir, "accounts.yaml"), `accounts:\n${names.map((n) => `  - name: ${n}\n    url: ${double.url}\n    token_file: ${join(dir, "token")}\n`).join("")}`);
  const port = await freePort();
  const rssFile = join(dir, "maxrss.json");
  const started = performance.now();
  const worker = spawn(process.execPath, ["--import", join(ROOT, "bench/maxrss.mjs"), join(ROOT, "bin/contacts-sync"), "worker"], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", LOG_FORMAT: "json", LOG_LEVEL: "warn", CONTACTS_SYNC_DATA_DIR: dir,
      DATABASE_URL: dbUrl, ACCOUNTS_FILE: join(dir, "accounts.yaml"), SYNC_LAG: "0", SYNC_CRON: NEVER, RECONCILE_CRON: NEVER,
      HTTP_PORT: String(port), BENCH_MAXRSS_FILE: rssFile,
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  worker.stderr!.on("data", (c: Buffer) => (stderr = (stderr + c.toString()).slice(-8000)));
  const exited = new Promise<number | null>((resolve) => worker.on("exit", (code) => resolve(code)));
  let done = 0;
  let workerPeak = 0;
  for (;;) {
    await sleep(500);
    if (worker.exitCode !== null) throw new Error(`the worker exited (${worker.exitCode}): ${stderr}`);
    try {
      const { rows } = await pool.query<{ n: number }>("select count(distinct account)::int as n from sync_runs where kind = 'incremental' and status = 'succeeded'");
      done = rows[0]?.n ?? 0;
    } catch {
      // the schema is not there yet
    }
    const metrics = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text()).catch(() => "");
    const peak = /^contacts_sync_host_requests_in_flight_peak\{[^}]*\} (\d+)/m.exec(metrics);
    if (peak) workerPeak = Math.max(workerPeak, Number(peak[1]));
    if (done >= accounts) break;
  }
  const totalSeconds = (performance.now() - started) / 1000;
  const stats = (await double.stats()) as unknown as { requests: number; peakInFlight: number; rowsServed: number };
  const { rows } = await pool.query<{ n: number; failed: number }>("select count(*)::int as n, (select count(*)::int from sync_runs where status = 'failed') as failed from contacts");
  worker.kill("SIGTERM");
  await exited;
  const rss = JSON.parse(readFileSync(rssFile, "utf8")) as { maxRssKiB: number; cpuSeconds: number };
  const result = {
    accounts, contactsPerAccount: contacts, rowsWritten: rows[0]!.n, failedRuns: rows[0]!.failed, totalSeconds: Math.round(totalSeconds * 10) / 10,
    peakRssMiB: Math.round(rss.maxRssKiB / 1024), workerCpuSeconds: Math.round(rss.cpuSeconds * 10) / 10,
    apiRequests: stats.requests, apiPeakInFlight: stats.peakInFlight, workerPeakInFlight: workerPeak,
    hostCap: 8, accountsConcurrency: 4, syncConcurrency: 4,
  };
  process.stdout.write(
    `${accounts} accounts x ${contacts} contacts, one host, one worker (defaults: SYNC_ACCOUNTS_CONCURRENCY 4, INBOX_HOST_CONCURRENCY 8, SYNC_CONCURRENCY 4)\n` +
      `  first syncs all complete in ${result.totalSeconds} s; ${result.rowsWritten} rows; failed runs ${result.failedRuns}\n` +
      `  worker peak RSS ${result.peakRssMiB} MiB, CPU ${result.workerCpuSeconds} s; ${result.apiRequests} requests\n` +
      `  requests in flight at once: ${result.apiPeakInFlight} seen by the API, ${result.workerPeakInFlight} by the worker (cap ${result.hostCap})\n`,
  );
  if (values.json) writeFileSync(values.json, JSON.stringify(result, null, 2));
} finally {
  await pool.end();
  await double.stop();
  await server.dropDatabase(dbUrl);
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
