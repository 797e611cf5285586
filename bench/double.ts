// The API double in a process of its own (`node dist/double/main.js --control`), so that its memory and CPU
// are not counted as the sync's; driven through its /__control/ routes (src/double/control.ts).
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { ROOT } from "./paths.js";

export const BENCH_TOKEN = "bench-token-3c1d9e7f20a84b56";

export interface DoubleStats {
  requests: number;
  byStatus: Record<string, number>;
  faults: number;
  rowsServed: number;
  contacts: number;
}

export interface DoubleProcess {
  url: string;
  pid: number | undefined;
  stats(): Promise<DoubleStats>;
  mutate(m: { see?: number; create?: number; editSilently?: number; delete?: number }): Promise<Record<string, number>>;
  stop(): Promise<void>;
}

export async function startDouble(o: { contacts: number; pageSize: number; latencyMs: number; seed: number }): Promise<DoubleProcess> {
  const child = spawn(
    process.execPath,
    [
      "dist/double/main.js", "--control", "--token", BENCH_TOKEN,
      "--contacts", String(o.contacts), "--page-size", String(o.pageSize), "--latency-ms", String(o.latencyMs), "--seed", String(o.seed),
    ],
    // The double's own heap must hold the data set (a million contacts are about 1.5 GB of objects).
    { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NODE_OPTIONS: "--max-old-space-size=6144" } },
  );
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const url = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on("line", (line) => {
      const match = /listening on (\S+)/.exec(line);
      if (match) resolve(match[1]!);
    });
    child.once("exit", (code) => reject(new Error(`the API double exited (${code}) before listening: ${stderr.trim()}`)));
  });
  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${url}/__control/${path}`, {
      method,
      headers: body ? { "content-type": "application/json" } : undefined,
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`double control ${path}: ${response.status} ${text}`);
    return JSON.parse(text);
  };
  return {
    url,
    pid: child.pid,
    stats: () => call("GET", "stats"),
    mutate: (m) => call("POST", "mutate", m),
    stop: () => stopChild(child),
  };
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(timer);
}
