// `npm run bench`: how far the sync is from this machine's limits and from the obvious way of writing it,
// measured side by side in one run (docs/benchmarks.md has the method, the results and the analysis).
//
// A fresh PostgreSQL (embedded, or BENCH_DATABASE_URL) and the API double run for the whole benchmark, the
// double and every sync in processes of their own; each measured run gets a fresh database. Each figure is
// the median of --runs runs. `--help` lists the knobs.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { readdirSync } from "node:fs";
import os, { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { generateContacts, type Contact } from "../src/double/generate.js";
import { copyDir, copyMethod, runCopy, writeCopyFile, type CopyMeasure } from "./copy.js";
import { startDouble, type DoubleProcess } from "./double.js";
import { machine } from "./machine.js";
import { runNaive, type NaiveMeasure } from "./naive.js";
import { ROOT } from "./paths.js";
import { startServer, type BenchServer } from "./postgres.js";
import { findProfile, summariseProfile, type ProfileSummary } from "./profile.js";
import { renderReport, replaceSection, type BenchOptions, type Results } from "./report.js";
import { runSync, type SyncMeasure } from "./sync.js";

const USAGE = `Usage: npm run bench -- [options]
  --contacts <n>           contacts in the double for the main rows (default 200000)
  --page-size <n>          the double's page size (default 100; the real API's is unknown)
  --runs <n>               runs per figure; each figure is the median (default 3)
  --naive <n>              contacts for the one-Prisma-upsert-per-contact baseline (default 10000; 0 skips)
  --latency-contacts <n>   contacts for the rows with API latency (default 20000; 0 skips)
  --latency-ms <n>         the latency of those rows (default 100)
  --concurrency <list>     SYNC_CONCURRENCY values for the latency rows; "default" leaves it unset (default 1,default,32: the setting's default and maximum)
  --changed <share>        share of contacts changed before the "1% changed" sync (default 0.01)
  --memory <list>          contact counts for the peak-RSS rows (default 100000)
  --big                    add the 1,000,000-contact peak-RSS row (minutes: not in the default run)
  --profile                write a CPU profile of one more first sync and summarise where its time goes
  --seed <n>               seed of the double's data (default 1)
  --write <file>           update this Markdown file's results section (default docs/benchmarks.md)
  --no-write               print only
  --json <file>            also write every measurement as JSON
Environment: BENCH_DATABASE_URL = a PostgreSQL server whose user may create databases (default: embedded).`;

interface Options extends BenchOptions {
  write: string | null;
  json: string | null;
}

function parseOptions(argv: string[]): Options | null {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      contacts: { type: "string" },
      "page-size": { type: "string" },
      runs: { type: "string" },
      naive: { type: "string" },
      "latency-contacts": { type: "string" },
      "latency-ms": { type: "string" },
      concurrency: { type: "string" },
      changed: { type: "string" },
      memory: { type: "string" },
      big: { type: "boolean" },
      profile: { type: "boolean" },
      seed: { type: "string" },
      write: { type: "string" },
      "no-write": { type: "boolean" },
      json: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return null;
  const whole = (name: string, raw: string | undefined, fallback: number, min = 0) => {
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name}: expected a whole number >= ${min}, got "${raw}"`);
    return n;
  };
  const list = (raw: string | undefined, fallback: string) => (raw ?? fallback).split(",").map((s) => s.trim()).filter(Boolean);
  const concurrency = list(values.concurrency, "1,default,32");
  for (const c of concurrency) {
    if (c !== "default" && !(Number.isInteger(Number(c)) && Number(c) >= 1)) throw new Error(`--concurrency: expected whole numbers >= 1 or "default", got "${c}"`);
  }
  const changed = values.changed === undefined ? 0.01 : Number(values.changed);
  if (!(changed > 0 && changed <= 1)) throw new Error(`--changed: expected a share in (0, 1], got "${values.changed}"`);
  const memory = list(values.memory, "100000").map((m) => whole("memory", m, 0, 1));
  if (values.big && !memory.includes(1_000_000)) memory.push(1_000_000);
  return {
    contacts: whole("contacts", values.contacts, 200_000, 100),
    pageSize: whole("page-size", values["page-size"], 100, 2),
    runs: whole("runs", values.runs, 3, 1),
    naive: whole("naive", values.naive, 10_000),
    latencyContacts: whole("latency-contacts", values["latency-contacts"], 20_000),
    latencyMs: whole("latency-ms", values["latency-ms"], 100),
    concurrency,
    changed,
    memory,
    big: values.big === true,
    profile: values.profile === true,
    seed: whole("seed", values.seed, 1),
    write: values["no-write"] ? null : (values.write ?? join(ROOT, "docs/benchmarks.md")),
    json: values.json ?? null,
  };
}

const t0 = performance.now();
function progress(message: string): void {
  process.stderr.write(`[bench ${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${message}\n`);
}

/** What `contacts-sync sync` lists and writes: contacts (not leads), not deleted, seen at least once. */
function listed(contacts: readonly Contact[]): Contact[] {
  return contacts.filter((c) => c.isContact && c.status !== "DELETED" && c.lastSeenAt !== null);
}

/** Warns when the compiled product (what the sync process runs) is older than its sources. */
function checkBuild(): string[] {
  const notes: string[] = [];
  for (const file of ["dist/cli.js", "dist/double/main.js"]) {
    if (!existsSync(join(ROOT, file))) throw new Error(`${file} is missing: run \`npm ci\` (or \`node scripts/prepare.mjs\`) first.`);
  }
  const built = statSync(join(ROOT, "dist/cli.js")).mtimeMs;
  const newer: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== "generated") walk(path);
      } else if (entry.name.endsWith(".ts") && statSync(path).mtimeMs > built) newer.push(relative(ROOT, path));
    }
  };
  walk(join(ROOT, "src"));
  if (newer.length) {
    notes.push(`dist/ is older than ${newer.slice(0, 3).join(", ")}${newer.length > 3 ? ` and ${newer.length - 3} more` : ""}: ` +
      "the sync runs the compiled dist/ (run `node scripts/prepare.mjs` to measure the current sources).");
  }
  return notes;
}

function concurrencyIsASetting(): boolean {
  try {
    return readFileSync(join(ROOT, "dist/config.js"), "utf8").includes("SYNC_CONCURRENCY");
  } catch {
    return false;
  }
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  if (!options) {
    console.log(USAGE);
    return;
  }
  const notes = checkBuild();
  for (const note of notes) progress(`note: ${note}`);
  const server = await startServer();
  const doubles: DoubleProcess[] = [];
  const copyFolder = copyDir(server.dir);
  const cleanup = async () => {
    for (const d of doubles) await d.stop().catch(() => undefined);
    copyFolder.remove();
    await server.stop();
  };
  const onSignal = () => {
    progress("interrupted; cleaning up");
    cleanup().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    const results = await measure(options, server, doubles, copyFolder.dir, notes);
    const report = renderReport(results);
    process.stdout.write(`\n${report}\n`);
    if (options.write) {
      const existing = existsSync(options.write) ? readFileSync(options.write, "utf8") : null;
      writeFileSync(options.write, replaceSection(existing, report));
      progress(`results written to ${relative(process.cwd(), options.write) || options.write}`);
    }
    if (options.json) writeFileSync(options.json, `${JSON.stringify(results, null, 2)}\n`);
  } finally {
    await cleanup();
  }
}

async function measure(o: Options, server: BenchServer, doubles: DoubleProcess[], copyFolder: string, notes: string[]): Promise<Results> {
  const started = Date.now();
  const method = copyMethod(server.embedded);
  const results: Results = {
    command: commandLine(process.argv.slice(2)),
    date: new Date().toISOString(),
    machine: machine(server),
    options: (({ write: _w, json: _j, ...rest }) => rest)(o),
    notes,
    listed: 0,
    first: [], noChange: [], noChangeReconcile: [], changed: [], changedCount: 0, copy: [], copyMethod: method, naive: [],
    latency: [], concurrencyIsASetting: concurrencyIsASetting(), memory: [], profile: null, totalSeconds: 0, loadAtEnd: [],
  };
  const start = async (contacts: number, latencyMs = 0) => {
    progress(`starting the API double with ${contacts.toLocaleString("en")} contacts, page size ${o.pageSize}, latency ${latencyMs} ms`);
    const d = await startDouble({ contacts, pageSize: o.pageSize, latencyMs, seed: o.seed });
    doubles.push(d);
    return d;
  };
  const stop = async (d: DoubleProcess) => {
    await d.stop();
    doubles.splice(doubles.indexOf(d), 1);
  };
  const firstSync = async (double: DoubleProcess, label: string, env: Record<string, string | undefined> = {}) => {
    const url = await server.createDatabase(label);
    try {
      return await runSync({ databaseUrl: url, double, env, postmasterPid: server.postmasterPid });
    } finally {
      await server.dropDatabase(url);
    }
  };

  // The same contacts as the double's, for the write ceiling and the naive baseline (same seed; the clock of
  // generation differs by seconds, which changes no size or shape).
  progress(`generating the same ${o.contacts.toLocaleString("en")} contacts for the COPY and naive rows`);
  const contacts = listed(generateContacts(o.contacts, { seed: o.seed }));
  results.listed = contacts.length;
  let copyFile: { path: string; bytes: number } | null = null;
  if (method) {
    const path = join(copyFolder, "contacts.csv");
    copyFile = { path, bytes: await writeCopyFile(contacts, path) };
  } else {
    notes.push("Write ceiling not measured: it needs `psql` on the PATH (apt-get install postgresql-client) or the embedded server.");
  }
  const naiveContacts = contacts.slice(0, Math.min(o.naive, contacts.length));

  // 1, 2 and 4, interleaved run by run so that each ratio compares runs made side by side. A fresh double
  // for each run: the same data every time (the previous run's changes would otherwise sit in the next
  // run's SYNC_LOOKBACK and be read again).
  for (let run = 1; run <= o.runs; run++) {
    const double = await start(o.contacts);
    const url = await server.createDatabase("main");
    try {
      progress(`run ${run}/${o.runs}: first sync`);
      const first = await runSync({ databaseUrl: url, double, postmasterPid: server.postmasterPid });
      results.first.push(first);
      progress(`  ${first.rowsWritten} rows in ${(first.wallMs / 1000).toFixed(1)} s, ${first.requests} requests, peak RSS ${mb(first.peakRssBytes)} MB`);
      progress(`run ${run}/${o.runs}: second sync, nothing changed`);
      results.noChange.push(await runSync({ databaseUrl: url, double, postmasterPid: server.postmasterPid }));
      progress(`run ${run}/${o.runs}: reconcile, nothing changed`);
      // The first reconcile of a mirror reads everything; the one after it is the nightly no-change case.
      await runSync({ databaseUrl: url, double, postmasterPid: server.postmasterPid, command: "reconcile" });
      results.noChangeReconcile.push(await runSync({ databaseUrl: url, double, postmasterPid: server.postmasterPid, command: "reconcile" }));
      const n = Math.max(1, Math.round(first.rowsTotal * o.changed));
      const done = await double.mutate({ see: n });
      results.changedCount = done.see ?? 0;
      progress(`run ${run}/${o.runs}: sync after ${results.changedCount} contacts were seen again`);
      results.changed.push(await runSync({ databaseUrl: url, double, postmasterPid: server.postmasterPid }));
    } finally {
      await server.dropDatabase(url);
      await stop(double);
    }
    if (method && copyFile) {
      const copyUrl = await server.createDatabase("copy");
      try {
        progress(`run ${run}/${o.runs}: COPY of ${contacts.length} rows (${mb(copyFile.bytes)} MB of CSV) via ${method}`);
        results.copy.push(await runCopy(copyUrl, copyFile.path, copyFile.bytes, method, server.postmasterPid));
      } finally {
        await server.dropDatabase(copyUrl);
      }
    }
  }

  if (o.profile) {
    const dir = mkdtempSync(join(tmpdir(), "contacts-sync-bench-prof-"));
    const double = await start(o.contacts);
    try {
      progress("profiled first sync (node --cpu-prof)");
      const url = await server.createDatabase("profile");
      try {
        const measured = await runSync({ databaseUrl: url, double, cpuProfileDir: dir, postmasterPid: server.postmasterPid });
        const file = findProfile(dir);
        results.profile = { ...summariseProfile(file, 20), wallMs: measured.wallMs } as ProfileSummary & { wallMs: number };
        const keep = join(tmpdir(), `contacts-sync-sync-${Date.now()}.cpuprofile`);
        writeFileSync(keep, readFileSync(file));
        progress(`  profile kept at ${keep} (open it in Chrome DevTools or speedscope)`);
      } finally {
        await server.dropDatabase(url);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await stop(double);
    }
  }

  // 3: the naive baseline.
  if (naiveContacts.length > 0) {
    for (let run = 1; run <= o.runs; run++) {
      const url = await server.createDatabase("naive");
      try {
        progress(`run ${run}/${o.runs}: naive baseline, ${naiveContacts.length} Prisma upserts one by one`);
        results.naive.push(await runNaive(url, naiveContacts, server.postmasterPid));
      } finally {
        await server.dropDatabase(url);
      }
    }
  }

  // 5: latency, at each concurrency.
  if (o.latencyContacts > 0) {
    if (!results.concurrencyIsASetting) {
      notes.push("This build has no SYNC_CONCURRENCY setting: every concurrency row runs the same engine (the same figure, within noise).");
    }
    const slow = await start(o.latencyContacts, o.latencyMs);
    for (const c of o.concurrency) {
      const measures: SyncMeasure[] = [];
      for (let run = 1; run <= o.runs; run++) {
        progress(`run ${run}/${o.runs}: first sync with ${o.latencyMs} ms latency, SYNC_CONCURRENCY ${c === "default" ? "unset" : c}`);
        measures.push(await firstSync(slow, "latency", { SYNC_CONCURRENCY: c === "default" ? undefined : c }));
      }
      results.latency.push({ concurrency: c, measures });
    }
    await stop(slow);
  }

  // 6: memory at other sizes.
  for (const size of o.memory) {
    const runs = size >= 1_000_000 ? 1 : o.runs;
    const d = size === o.contacts ? null : await start(size);
    const measures: SyncMeasure[] = [];
    if (d) {
      for (let run = 1; run <= runs; run++) {
        progress(`run ${run}/${runs}: first sync of ${size.toLocaleString("en")} contacts (peak RSS)`);
        const m = await firstSync(d, "memory");
        progress(`  peak RSS ${mb(m.peakRssBytes)} MB in ${(m.wallMs / 1000).toFixed(1)} s`);
        measures.push(m);
      }
      await stop(d);
    } else {
      measures.push(...results.first);
    }
    results.memory.push({ contacts: size, measures });
  }
  results.totalSeconds = (Date.now() - started) / 1000;
  results.loadAtEnd = os.loadavg().map((n) => Math.round(n * 100) / 100);
  return results;
}

/** The command as a user would type it, without the options that only say where results go. */
function commandLine(argv: string[]): string {
  const shown: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--no-write" || /^--(json|write)=/.test(arg)) continue;
    if (arg === "--json" || arg === "--write") {
      i += 1;
      continue;
    }
    shown.push(arg);
  }
  return `npm run bench${shown.length ? ` -- ${shown.join(" ")}` : ""}`;
}

function mb(bytes: number | null): string {
  return bytes === null ? "?" : (bytes / 1048576).toFixed(0);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exit(1);
});
