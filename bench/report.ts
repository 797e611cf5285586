// The benchmark's report: one Markdown text, printed and written between two markers of docs/benchmarks.md
// (everything outside the markers, such as the analysis, is left alone).
import type { CopyMeasure } from "./copy.js";
import type { Machine } from "./machine.js";
import type { NaiveMeasure } from "./naive.js";
import type { ProfileSummary } from "./profile.js";
import type { SyncMeasure } from "./sync.js";

/** The knobs of a run, as reported with its results. */
export interface BenchOptions {
  contacts: number;
  pageSize: number;
  runs: number;
  naive: number;
  latencyContacts: number;
  latencyMs: number;
  concurrency: string[];
  changed: number;
  memory: number[];
  big: boolean;
  profile: boolean;
  seed: number;
}

export interface Results {
  command: string;
  date: string;
  machine: Machine;
  options: BenchOptions;
  notes: string[];
  /** Contacts the double lists (contacts, not deleted, seen): what a first sync writes. */
  listed: number;
  first: SyncMeasure[];
  noChange: SyncMeasure[];
  /** A reconcile after one that already read everything: nothing to write. */
  noChangeReconcile: SyncMeasure[];
  changed: SyncMeasure[];
  changedCount: number;
  copy: CopyMeasure[];
  copyMethod: string | null;
  naive: NaiveMeasure[];
  latency: { concurrency: string; measures: SyncMeasure[] }[];
  concurrencyIsASetting: boolean;
  memory: { contacts: number; measures: SyncMeasure[] }[];
  profile: (ProfileSummary & { wallMs: number }) | null;
  totalSeconds: number;
  /** Load averages at the end (the machine's at the start are in `machine`). */
  loadAtEnd: number[];
}

export const BEGIN = "<!-- bench:results:begin (written by `npm run bench`; edit outside these markers) -->";
export const END = "<!-- bench:results:end -->";

export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The median of each numeric field over the runs (null where a run had no figure). */
export function medianOf<T extends object>(runs: T[]): { [K in keyof T]: number } {
  const out: Record<string, number> = {};
  if (runs.length === 0) return out as { [K in keyof T]: number };
  for (const key of Object.keys(runs[0]!)) {
    const values = runs.map((r) => (r as Record<string, unknown>)[key]).filter((v): v is number => typeof v === "number");
    out[key] = values.length ? median(values) : NaN;
  }
  return out as { [K in keyof T]: number };
}

/**
 * Requests one seek lane needs for a window of k rows at page size p: the first page brings p rows, each later
 * one re-reads the previous page's oldest row plus p - 1 new ones, and the first short page ends the read.
 */
export function seekRequests(k: number, p: number): number {
  return k < p ? 1 : 2 + Math.floor((k - p) / (p - 1));
}

const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en") : "–");
const sec = (ms: number) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s` : "–");
const mib = (bytes: number) => (Number.isFinite(bytes) ? `${(bytes / 1048576).toFixed(0)} MiB` : "–");
const ratio = (n: number, digits = 2) => (Number.isFinite(n) ? `${n.toFixed(digits)}` : "–");
const rate = (rows: number, ms: number) => rows / (ms / 1000);
const cpuFigure = (n: number | null | undefined) => (typeof n === "number" && Number.isFinite(n) ? n.toFixed(1) : "–");

/** Medians of the CPU seconds of a sync's runs: "sync / double / PostgreSQL". */
function syncCpu(runs: SyncMeasure[]): string {
  const m = (pick: (c: SyncMeasure["cpu"]) => number | null) => {
    const values = runs.map((r) => pick(r.cpu)).filter((v): v is number => typeof v === "number");
    return values.length ? median(values) : null;
  };
  return `${cpuFigure(m((c) => c.sync))} / ${cpuFigure(m((c) => c.double))} / ${cpuFigure(m((c) => c.postgres))}`;
}

/** Peak RSS, with the V8 heap's part of it. */
function memoryFigure(m: { peakRssBytes: number; peakHeapBytes: number }): string {
  return Number.isFinite(m.peakRssBytes) ? `${mib(m.peakRssBytes)} (heap ${mib(m.peakHeapBytes).replace(" MiB", "")})` : "–";
}

function table(head: string[], align: string[], rows: string[][]): string {
  return [`| ${head.join(" | ")} |`, `|${align.join("|")}|`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");
}

export function renderReport(r: Results): string {
  const o = r.options;
  const p = o.pageSize;
  const first = medianOf(r.first);
  const noChange = medianOf(r.noChange);
  const changed = medianOf(r.changed);
  const copy = medianOf(r.copy);
  const naive = medianOf(r.naive);
  const firstRates = r.first.map((m) => rate(m.rowsTotal, m.wallMs));
  const copyRates = r.copy.map((m) => rate(m.rows, m.copyMs));
  const firstRate = median(firstRates);
  const firstRunRate = median(r.first.map((m) => rate(m.rowsTotal, m.runMs)));
  const copyRate = median(copyRates);
  const naiveRate = median(r.naive.map((m) => rate(m.rows, m.writeMs)));
  const idealFirst = first.rowsTotal / p;

  const rows: string[][] = [];
  rows.push([
    "1", `first sync, no latency (page size ${p})`, int(first.rowsTotal), `${sec(first.wallMs)} (run ${sec(first.runMs)})`, int(firstRate),
    int(first.requests), `${ratio(first.requests / idealFirst, 3)} × ${int(idealFirst)}`, int(first.rowsWritten), memoryFigure(first), syncCpu(r.first),
  ]);
  if (r.copy.length) {
    rows.push(["2", `write ceiling: COPY into contacts, triggers disabled (${r.copyMethod}, ${mib(copy.fileBytes)} CSV)`, int(copy.rows), sec(copy.copyMs), int(copyRate), "–", "–", int(copy.rows), "–",
      `– / – / ${cpuFigure(copy.postgresCpu)}`]);
  } else {
    rows.push(["2", "write ceiling: COPY", "–", "not measured", "–", "–", "–", "–", "–", "–"]);
  }
  if (r.naive.length) {
    const naiveCpu = (pick: (m: NaiveMeasure) => number | null) => median(r.naive.map(pick).filter((v): v is number => typeof v === "number"));
    rows.push(["3", "naive: one Prisma upsert per contact (writes only)", int(naive.rows), sec(naive.writeMs), int(naiveRate), "–", "–", int(naive.rows), "–",
      `${cpuFigure(naiveCpu((m) => m.cpu.client))} / – / ${cpuFigure(naiveCpu((m) => m.cpu.postgres))}`]);
  }
  const windowNeed = (m: { received: number }) => seekRequests(m.received, p);
  rows.push([
    "4a", "second sync, nothing changed", `${int(noChange.received)} re-read`, `${sec(noChange.wallMs)} (run ${sec(noChange.runMs)})`, "–",
    int(noChange.requests), `needs ${int(windowNeed(noChange))}`, int(noChange.rowsWritten), memoryFigure(noChange), syncCpu(r.noChange),
  ]);
  const noChangeReconcile = r.noChangeReconcile?.length ? medianOf(r.noChangeReconcile) : null;
  if (noChangeReconcile) {
    rows.push([
      "4c", "reconcile, nothing changed (after a first reconcile)", `${int(noChangeReconcile.received)} re-read`, `${sec(noChangeReconcile.wallMs)} (run ${sec(noChangeReconcile.runMs)})`, "–",
      int(noChangeReconcile.requests), "–", int(noChangeReconcile.rowsWritten), memoryFigure(noChangeReconcile), syncCpu(r.noChangeReconcile),
    ]);
  }
  rows.push([
    "4b", `sync after ${int(r.changedCount)} contacts (${(o.changed * 100).toFixed(1)} %) were seen again`, `${int(changed.received)} read`,
    `${sec(changed.wallMs)} (run ${sec(changed.runMs)})`, int(rate(changed.rowsWritten, changed.wallMs)),
    int(changed.requests), `needs ${int(windowNeed(changed))}`, int(changed.rowsWritten), memoryFigure(changed), syncCpu(r.changed),
  ]);
  const latencyRates = r.latency.map((l) => ({
    c: l.concurrency, m: medianOf(l.measures), cpu: syncCpu(l.measures), rate: median(l.measures.map((m) => rate(m.rowsTotal, m.wallMs))),
  }));
  for (const l of latencyRates) {
    rows.push([
      "5", `first sync, ${o.latencyMs} ms latency, SYNC_CONCURRENCY ${l.c === "default" ? "unset (default)" : l.c}`, int(l.m.rowsTotal),
      sec(l.m.wallMs), int(l.rate), int(l.m.requests), `${ratio(l.m.requests / (l.m.rowsTotal / p), 3)} × ${int(l.m.rowsTotal / p)}`,
      int(l.m.rowsWritten), memoryFigure(l.m), l.cpu,
    ]);
  }
  const memory = r.memory.map((m) => ({ contacts: m.contacts, runs: m.measures.length, m: medianOf(m.measures), cpu: syncCpu(m.measures) }));
  for (const m of memory) {
    rows.push([
      "6", `peak RSS, first sync of ${int(m.contacts)} generated${m.runs === 1 ? " (1 run)" : ""}`, int(m.m.rowsTotal), sec(m.m.wallMs),
      int(rate(m.m.rowsTotal, m.m.wallMs)), int(m.m.requests), `${ratio(m.m.requests / (m.m.rowsTotal / p), 3)} × ${int(m.m.rowsTotal / p)}`,
      int(m.m.rowsWritten), memoryFigure(m.m), m.cpu,
    ]);
  }

  // Targets.
  const targets: string[][] = [];
  const verdict = (ok: boolean | null) => (ok === null ? "not measured" : ok ? "met" : "**missed**");
  const copyRatio = firstRate / copyRate;
  // The verdict is the ratio of the medians; each run's own ratio (its first sync against its COPY, a minute
  // apart) shows how far the machine's drift moves it.
  const eachRun = copyRates.length === firstRates.length && firstRates.length > 1
    ? `; each run: ${firstRates.map((f, i) => ratio(f / copyRates[i]!)).join(", ")}`
    : "";
  targets.push([
    "(1) ≥ 0.5 × (2), the trigger-free COPY: HTTP, JSON and mapping cost no more than the database",
    r.copy.length ? `${ratio(copyRatio)} × (on the run's own time: ${ratio(firstRunRate / copyRate)} ×${eachRun})` : "–",
    verdict(r.copy.length ? copyRatio >= 0.5 : null),
  ]);
  const perContact = (seconds: number | null | undefined, contacts: number) => (typeof seconds === "number" && contacts > 0 ? (seconds / contacts) * 1e6 : null);
  const us = (v: number | null) => (v === null ? "–" : `${Math.round(v)} µs`);
  const firstSyncCpu = median(r.first.map((m) => perContact(m.cpu.sync, m.rowsTotal)).filter((v): v is number => v !== null));
  const firstPgCpu = median(r.first.map((m) => perContact(m.cpu.postgres, m.rowsTotal)).filter((v): v is number => v !== null));
  const copyPgCpu = r.copy.length ? median(r.copy.map((m) => perContact(m.postgresCpu, m.rows)).filter((v): v is number => v !== null)) : null;
  const eachSyncCpu = r.first.length > 1 ? `; each run: ${r.first.map((m) => us(perContact(m.cpu.sync, m.rowsTotal))).join(", ")}` : "";
  targets.push(["first sync: the sync process's own CPU ≤ 60 µs per contact", `${us(firstSyncCpu)} (PostgreSQL: ${us(firstPgCpu)} per contact; the trigger-free COPY: ${us(copyPgCpu)}${eachSyncCpu})`,
    verdict(Number.isFinite(firstSyncCpu) ? firstSyncCpu <= 60 : null)]);
  const firstHistory = r.first.map((m) => m.historyTotal);
  targets.push(["first sync writes 0 history rows", `${firstHistory.map((h) => (h === null ? "–" : int(h))).join(", ")} rows in contact_versions`,
    verdict(firstHistory.every((h) => h === null) ? null : firstHistory.every((h) => h === 0))]);
  if (r.noChangeReconcile?.length) {
    const rec = r.noChangeReconcile;
    targets.push(["a reconcile with nothing changed writes 0 rows of the mirror (contacts, contact_versions)",
      `${rec.map((m, i) => `${m.rowsWritten} contacts, ${(m.historyTotal ?? 0) - (r.noChange[i]?.historyTotal ?? 0)} versions`).join("; ")} (its bookkeeping: one reconcile_seen row per contact, one sync_runs row, checkpoints)`,
      verdict(rec.every((m, i) => m.rowsWritten === 0 && m.historyTotal === r.noChange[i]?.historyTotal))]);
  }
  targets.push([
    `the ${(o.changed * 100).toFixed(1)} % change writes exactly those contacts, and one history row per contact whose tracked fields changed`,
    r.changed.map((m, i) => {
      const versions = (m.historyTotal ?? 0) - (r.noChangeReconcile?.[i]?.historyTotal ?? r.noChange[i]?.historyTotal ?? 0);
      return `${m.rowsWritten} of the ${r.changedCount} seen again written (the double picks among leads too, which the sync does not list); ` +
        `${versions} versions for ${m.trackedChanges ?? "–"} contacts whose tracked fields changed (seeing a contact again sets userInteracted: a tracked change when it was false)`;
    }).join("; "),
    verdict(r.changed.every((m, i) => m.rowsWritten <= r.changedCount && m.rowsWritten >= 0.9 * r.changedCount
      && (m.historyTotal ?? 0) - (r.noChangeReconcile?.[i]?.historyTotal ?? r.noChange[i]?.historyTotal ?? 0) === m.trackedChanges)),
  ]);
  const naiveRatio = firstRate / naiveRate;
  targets.push(["(1) ≥ 20 × (3)", r.naive.length ? `${ratio(naiveRatio, 1)} ×` : "–", verdict(r.naive.length ? naiveRatio >= 20 : null)]);
  targets.push(["a sync with nothing changed writes 0 rows", `${int(noChange.rowsWritten)} rows (all runs: ${r.noChange.map((m) => m.rowsWritten).join(", ")})`,
    verdict(r.noChange.every((m) => m.rowsWritten === 0))]);
  targets.push([
    "... and makes no more requests than its window needs",
    `${r.noChange.map((m) => `${m.requests} for ${m.received} rows (needs ${windowNeed(m)})`).join("; ")}`,
    verdict(r.noChange.every((m) => m.requests <= windowNeed(m))),
  ]);
  if (latencyRates.length) {
    // Linear "up to what the machine allows": with no latency the sync is bound by CPU (row 1), and no
    // concurrency can beat that rate. Requests in flight on average = requests × latency / the run's time.
    const base = latencyRates.find((l) => l.c === "1")?.rate ?? latencyRates[0]!.rate;
    const ceiling = firstRate;
    const inFlight = (l: (typeof latencyRates)[number]) => (l.m.requests * o.latencyMs) / l.m.runMs;
    const parts = latencyRates.map((l) =>
      `${l.c === "default" ? "default" : `c=${l.c}`}: ${int(l.rate)}/s (×${ratio(l.rate / base, 1)}, ${ratio(inFlight(l), 1)} requests in flight on average)`);
    const expected = (c: number) => Math.min(c * base, ceiling);
    const numeric = latencyRates.filter((l) => l.c !== "default" && Number(l.c) > 1);
    const linear = numeric.length ? numeric.every((l) => l.rate >= 0.7 * expected(Number(l.c))) : null;
    targets.push([
      `with ${o.latencyMs} ms latency, throughput grows close to linearly with concurrency, up to the no-latency rate of (1) ` +
        `(${int(ceiling)}/s); ≥ 70 % of min(c × c=1, that) counted as close`,
      parts.join("; "),
      r.concurrencyIsASetting ? verdict(linear) : `${verdict(linear)} (no SYNC_CONCURRENCY in this build)`,
    ]);
  }
  const big = memory.find((m) => m.contacts >= 1_000_000);
  const hundred = memory.find((m) => m.contacts === 100_000);
  targets.push(["peak RSS < 250 MiB at 1,000,000 contacts", big ? mib(big.m.peakRssBytes) : "run with --big", verdict(big ? big.m.peakRssBytes < 250 * 1048576 : null)]);
  targets.push([
    "peak RSS at 1,000,000 ≤ 1.3 × at 100,000",
    big && hundred ? `${ratio(big.m.peakRssBytes / hundred.m.peakRssBytes)} × (${mib(big.m.peakRssBytes)} / ${mib(hundred.m.peakRssBytes)})` : "run with --big",
    verdict(big && hundred ? big.m.peakRssBytes <= 1.3 * hundred.m.peakRssBytes : null),
  ]);
  targets.push(["first sync: requests within 3 % of contacts / page size", `${ratio(first.requests / idealFirst, 3)} × (${int(first.requests)} for ${int(first.rowsTotal)} / ${p})`,
    verdict(first.requests <= 1.03 * idealFirst)]);

  const m = r.machine;
  const out: string[] = [];
  out.push(`### Results of ${r.date.slice(0, 16).replace("T", " ")} UTC`);
  out.push("");
  out.push(`Command: \`${r.command}\` (${int(r.totalSeconds)} s in all). Each figure is the median of ${o.runs} run${o.runs > 1 ? "s" : ""} ` +
    `(the 1,000,000 row: 1 run); every run starts from a fresh database.`);
  out.push("");
  out.push(`Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB; ${m.os}; Node ${m.node}; PostgreSQL ${m.postgres} (${m.database}; ` +
    `${Object.entries(m.postgresSettings).map(([k, v]) => `${k}=${v}`).join(", ")}); ${m.psql ?? "no psql"}. ` +
    "The sync, the API double and PostgreSQL share these cores. " +
    `Load average (1/5/15 min) at the start ${m.loadAverage.join(" / ")}, at the end ${r.loadAtEnd.join(" / ")}` +
    `${Math.max(...m.loadAverage, ...r.loadAtEnd) > m.cores * 0.5 ? ": other work was running on the machine, so treat the figures as rough" : ""}.`);
  out.push("");
  out.push(`The double generates ${int(o.contacts)} contacts (seed ${o.seed}), of which ${int(r.listed)} are listed (contacts, not deleted, seen at least once): ` +
    "those are what a first sync writes.");
  out.push("");
  out.push(table(
    ["#", "measurement", "contacts", "time", "contacts/s", "requests", "requests vs ideal", "rows written", "peak RSS (MiB of V8 heap)", "CPU s: sync / double / PG"],
    ["--:", "---", "--:", "--:", "--:", "--:", "--:", "--:", "--:", "--:"],
    rows,
  ));
  out.push("");
  out.push("Time is wall time from spawning `contacts-sync sync` to its exit (\"run\": the run's own span in `sync_runs`, without process start-up and " +
    "the migration check); contacts/s is per wall second. Requests are those the double answered; ideal = contacts / page size; for 4a/4b, " +
    "\"needs\" is what one seek through the window needs for the rows in it (each page after the first re-reads the previous page's oldest row; " +
    "the first short page ends the read). " +
    "Rows written are counted by the database (rows whose `synced_at` the run set). Peak RSS is the sync process's `ru_maxrss`; " +
    "the heap figure is the largest V8 heap (`heapTotal`, sampled every 100 ms). CPU seconds are those of the sync process (for 3: the " +
    "benchmark's own process), the double and the whole PostgreSQL server during the run: they share the machine's cores.");
  out.push("");
  out.push("#### Against the targets");
  out.push("");
  out.push(table(["target", "measured", ""], ["---", "---", "---"], targets));
  for (const note of r.notes) {
    out.push("");
    out.push(`Note: ${note}`);
  }
  if (r.profile) {
    const pr = r.profile;
    out.push("");
    out.push(`#### Where the first sync's time goes (one profiled run, \`node --cpu-prof\`, ${sec(pr.wallMs)} wall, ${sec(pr.totalMs)} sampled)`);
    out.push("");
    out.push("By area (self time; `(idle)` is the process waiting on the API or the database):");
    out.push("");
    out.push(table(["area", "self", "share"], ["---", "--:", "--:"], pr.areas.map((l) => [l.name, sec(l.ms), `${(l.share * 100).toFixed(1)} %`])));
    out.push("");
    out.push("Top functions by self time:");
    out.push("");
    out.push(table(["function", "where", "self", "share"], ["---", "---", "--:", "--:"],
      pr.self.map((l) => [`\`${l.name}\``, l.where ? `\`${l.where}\`` : "", sec(l.ms), `${(l.share * 100).toFixed(1)} %`])));
    out.push("");
    out.push("Top functions by total time (with what they call):");
    out.push("");
    out.push(table(["function", "where", "total", "share"], ["---", "---", "--:", "--:"],
      pr.total.map((l) => [`\`${l.name}\``, l.where ? `\`${l.where}\`` : "", sec(l.ms), `${(l.share * 100).toFixed(1)} %`])));
  }
  return out.join("\n");
}

/** The file's text with the results section replaced (or appended; or a new file around it). */
export function replaceSection(existing: string | null, report: string): string {
  const section = `${BEGIN}\n${report}\n${END}`;
  if (existing === null) return `# Benchmarks\n\nHow to run: \`npm run bench\` (see \`npm run bench -- --help\`).\n\n${section}\n`;
  const begin = existing.indexOf(BEGIN.slice(0, 30));
  const end = existing.indexOf(END);
  if (begin >= 0 && end > begin) return existing.slice(0, begin) + section + existing.slice(end + END.length);
  return `${existing.trimEnd()}\n\n${section}\n`;
}
