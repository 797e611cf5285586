// One `contacts-sync sync` in a process of its own, as a user runs it, measured from outside: wall time from
// spawn to exit, peak RSS (ru_maxrss, reported by the preload bench/maxrss.mjs, with the V8 heap's peak), the run's own figures from
// `sync_runs`, the rows the database says were written (synced_at is set only when a row is written), and the
// requests the double answered meanwhile.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import pg from "pg";
import { postgresCpuSeconds, processCpuSeconds } from "./cpu.js";
import { BENCH_TOKEN, type DoubleProcess } from "./double.js";
import { BIN, MAXRSS_PRELOAD, shippedNodeEnv, shippedNodeFlags } from "./paths.js";

export interface SyncMeasure {
  wallMs: number;
  /** The run's own duration (sync_runs.finished_at - started_at): without process start and migration check. */
  runMs: number;
  peakRssBytes: number | null;
  /** Largest V8 heap (heapTotal: what V8 holds, live or not) and memory outside it (buffers, wasm), sampled. */
  peakHeapBytes: number | null;
  peakExternalBytes: number | null;
  /** CPU seconds during the run: the sync process, the double, the (local) PostgreSQL server. */
  cpu: { sync: number | null; double: number | null; postgres: number | null };
  /** Requests the double received during the run (retries included). */
  requests: number;
  /** From sync_runs. */
  pages: number;
  received: number;
  inserted: number;
  updated: number;
  /** Rows of `contacts` whose synced_at is at or after the run's start, counted by the database. */
  rowsWritten: number;
  /** Rows in `contacts` after the run. */
  rowsTotal: number;
  /** Rows in the history table (`contact_versions`) after the run; null: a build without it. */
  historyTotal: number | null;
  /** Contacts whose tracked fields the run changed (rows of `contact_changes` seen during the run, inserts aside); null: not known. */
  trackedChanges: number | null;
}

export interface SyncOptions {
  databaseUrl: string;
  double: DoubleProcess;
  /** The local PostgreSQL server's postmaster, to measure its CPU time (null: not measured). */
  postmasterPid: number | null;
  /** Extra environment for the sync (e.g. SYNC_CONCURRENCY); undefined values are left unset. */
  env?: Record<string, string | undefined>;
  /** Write a V8 CPU profile of the sync into this folder (node --cpu-prof). */
  cpuProfileDir?: string;
  timeoutMs?: number;
  /** Another build's bin/contacts-sync (e.g. a worktree of another commit), to compare builds side by side. */
  bin?: string;
  /** The command to run (default sync). */
  command?: "sync" | "reconcile";
}

export async function runSync(o: SyncOptions): Promise<SyncMeasure> {
  // A folder of its own as working directory: a developer's ./.env must not change what is measured.
  const cwd = mkdtempSync(join(tmpdir(), "contacts-sync-bench-run-"));
  const rssFile = join(cwd, "maxrss");
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME ?? cwd,
    DATABASE_URL: o.databaseUrl,
    INBOX_API_URL: o.double.url,
    INBOX_API_TOKEN: BENCH_TOKEN,
    SYNC_LAG: "0",
    SYNC_START_AT: "2000-01-01",
    LOG_LEVEL: "warn",
    LOG_FORMAT: "json",
    BENCH_MAXRSS_FILE: rssFile,
    // As the executable's first line starts node (run here through process.execPath, with the same flags).
    ...shippedNodeEnv(o.bin),
  };
  for (const [k, v] of Object.entries(o.env ?? {})) if (v !== undefined) env[k] = v;
  const nodeArgs = [...shippedNodeFlags(o.bin), "--import", MAXRSS_PRELOAD];
  if (o.cpuProfileDir) nodeArgs.push("--cpu-prof", `--cpu-prof-dir=${o.cpuProfileDir}`);

  try {
    const before = await o.double.stats();
    const cpuBefore = { double: processCpuSeconds(o.double.pid), postgres: postgresCpuSeconds(o.postmasterPid) };
    const started = performance.now();
    const child = spawn(process.execPath, [...nodeArgs, o.bin ?? BIN, o.command ?? "sync"], { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-8000));
    child.stdout!.on("data", keep);
    child.stderr!.on("data", keep);
    const timeout = setTimeout(() => child.kill("SIGKILL"), o.timeoutMs ?? 3_600_000);
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once("error", reject);
      child.once("exit", (c, signal) => resolve(signal ? null : c));
    });
    clearTimeout(timeout);
    const wallMs = performance.now() - started;
    if (code !== 0) throw new Error(`contacts-sync ${o.command ?? "sync"} exited with ${code ?? "a signal"}:\n${output.trim()}`);
    const after = await o.double.stats();
    const cpuAfter = { double: processCpuSeconds(o.double.pid), postgres: postgresCpuSeconds(o.postmasterPid) };
    const diff = (a: number | null, b: number | null) => (a === null || b === null ? null : b - a);

    let peakRssBytes: number | null = null;
    let peakHeapBytes: number | null = null;
    let peakExternalBytes: number | null = null;
    let syncCpu: number | null = null;
    try {
      const memory = JSON.parse(readFileSync(rssFile, "utf8"));
      peakRssBytes = memory.maxRssKiB * 1024;
      peakHeapBytes = memory.peak.heapTotal;
      peakExternalBytes = memory.peak.external;
      syncCpu = memory.cpuSeconds;
    } catch {
      // no figure
    }
    const db = new pg.Client({ connectionString: o.databaseUrl });
    await db.connect();
    try {
      const run = (await db.query("select * from sync_runs where kind = $1 order by id desc limit 1", [o.command === "reconcile" ? "reconcile" : "incremental"])).rows[0];
      if (!run) throw new Error("the sync left no row in sync_runs");
      if (run.status !== "succeeded") throw new Error(`the sync's run is ${run.status}: ${run.error}`);
      const written = await db.query("select count(*)::int as n from contacts where synced_at >= $1", [run.started_at]);
      const total = await db.query("select count(*)::int as n from contacts");
      const history = await db.query("select count(*)::int as n from contact_versions").catch(() => null);
      const tracked = await db.query("select count(*)::int as n from contact_changes where seen_at >= $1 and kind <> 'insert'", [run.started_at]).catch(() => null);
      return {
        wallMs,
        runMs: new Date(run.finished_at).getTime() - new Date(run.started_at).getTime(),
        peakRssBytes,
        peakHeapBytes,
        peakExternalBytes,
        cpu: { sync: syncCpu, double: diff(cpuBefore.double, cpuAfter.double), postgres: diff(cpuBefore.postgres, cpuAfter.postgres) },
        requests: after.requests - before.requests,
        pages: Number(run.pages),
        received: Number(run.received),
        inserted: Number(run.inserted),
        updated: Number(run.updated),
        rowsWritten: written.rows[0].n,
        rowsTotal: total.rows[0].n,
        historyTotal: history ? history.rows[0].n : null,
        trackedChanges: tracked ? tracked.rows[0].n : null,
      };
    } finally {
      await db.end();
    }
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
}
