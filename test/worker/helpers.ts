// Shared by the worker and container tests: the worker as a real process (./bin/contacts-sync worker, the
// built dist/), its HTTP endpoints, polling, and a strict reader of the Prometheus text format.
import { spawn, type ChildProcess } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** A cron expression that does not fire during a test (Jan 1st, midnight). */
export const NEVER = "0 0 1 1 *";

export interface WorkerProcess {
  child: ChildProcess;
  /** Every line written to stdout and stderr so far. */
  lines: string[];
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  signal(name: NodeJS.Signals): void;
  /** Parsed JSON log lines (pino). */
  logs(): Record<string, unknown>[];
}

export function spawnWorker(env: Record<string, string>, options: { bin?: string; cwd?: string } = {}): WorkerProcess {
  const child = spawn(process.execPath, [options.bin ?? `${ROOT}bin/contacts-sync`, "worker"], {
    cwd: options.cwd ?? ROOT,
    // Only what the test gives: no developer .env, no inherited settings.
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", CONTACTS_SYNC_DATA_DIR: "/nonexistent-do-not-use", LOG_FORMAT: "json", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  const collect = (stream: NodeJS.ReadableStream) => {
    let rest = "";
    stream.on("data", (chunk: Buffer) => {
      const parts = (rest + chunk.toString("utf8")).split("\n");
      rest = parts.pop() ?? "";
      lines.push(...parts);
    });
    stream.on("end", () => rest && lines.push(rest));
  };
  collect(child.stdout!);
  collect(child.stderr!);
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  return {
    child,
    lines,
    exit,
    signal: (name) => void child.kill(name),
    logs: () =>
      lines.flatMap((line) => {
        try {
          return [JSON.parse(line) as Record<string, unknown>];
        } catch {
          return [];
        }
      }),
  };
}

/** Polls until `check` returns a truthy value (returned), or fails after `timeoutMs` with `what`. */
export async function waitFor<T>(what: string, check: () => Promise<T> | T, timeoutMs = 30_000, everyMs = 50): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${String(last)})` : ""}`);
    await sleep(everyMs);
  }
}

/**
 * Awaits `wait`; when it fails, the error also says whether the worker is still running and what it last
 * wrote, so a failure on a CI machine explains itself.
 */
export async function explained<T>(worker: WorkerProcess, wait: Promise<T>): Promise<T> {
  try {
    return await wait;
  } catch (error) {
    const state = worker.child.exitCode !== null || worker.child.signalCode !== null
      ? `the worker had exited (code ${worker.child.exitCode}, signal ${worker.child.signalCode})`
      : "the worker was still running";
    throw new Error(`${error instanceof Error ? error.message : String(error)}; ${state}; its last lines:\n${worker.lines.slice(-45).join("\n")}`);
  }
}

export async function get(port: number, path: string): Promise<{ status: number; type: string; text: string; json: () => any }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(5000) });
  const text = await response.text();
  return { status: response.status, type: response.headers.get("content-type") ?? "", text, json: () => JSON.parse(text) };
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * Parses the Prometheus text exposition format (0.0.4) strictly: every line is a HELP, a TYPE or a sample,
 * every sample belongs to a family declared with TYPE, and every value is a number. Throws on anything else.
 */
export function parsePrometheus(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?(?:\d+(?:\.\d*)?(?:e[+-]?\d+)?|\.\d+)|NaN|\+Inf|-Inf)(?: -?\d+)?$/;
  const label = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"(,|$)/y;
  if (!text.endsWith("\n")) throw new Error("exposition must end with a newline");
  for (const line of text.split("\n")) {
    if (line === "") continue;
    if (line.startsWith("# HELP ")) continue;
    const typed = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (typed) {
      if (types.has(typed[1]!)) throw new Error(`family ${typed[1]} declared twice`);
      types.set(typed[1]!, typed[2]!);
      continue;
    }
    if (line.startsWith("#")) throw new Error(`unexpected comment line: ${line}`);
    const m = sample.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    if (m[2]) {
      label.lastIndex = 0;
      while (label.lastIndex < m[2].length) {
        const l = label.exec(m[2]);
        if (!l) throw new Error(`bad labels in: ${line}`);
        labels[l[1]!] = l[2]!.replace(/\\n/g, "\n").replace(/\\"/g, '"').replace(/\\\\/g, "\\");
      }
    }
    const name = m[1]!;
    const family = [name, name.replace(/_(bucket|sum|count)$/, "")].find((n) => types.has(n));
    if (!family) throw new Error(`sample ${name} has no TYPE line`);
    samples.push({ name, labels, value: Number(m[3]) });
  }
  return { types, samples };
}

/** The value of one sample (labels must match exactly), or undefined. */
export function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const want = JSON.stringify(Object.entries(labels).sort());
  return samples.find((s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === want)?.value;
}

/** Runs that overlapped in time (from sync_runs): must be none. */
export function overlaps(runs: { id: string; started_at: Date; finished_at: Date | null }[]): string[] {
  const sorted = [...runs].sort((a, b) => a.started_at.getTime() - b.started_at.getTime());
  const found: string[] = [];
  for (let i = 1; i < sorted.length; i += 1) {
    const previous = sorted[i - 1]!;
    if (previous.finished_at === null || previous.finished_at.getTime() > sorted[i]!.started_at.getTime()) {
      found.push(`run ${previous.id} (${previous.started_at.toISOString()}..${previous.finished_at?.toISOString() ?? "open"}) overlaps run ${sorted[i]!.id}`);
    }
  }
  return found;
}
