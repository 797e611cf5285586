// The machine a result was measured on: figures from one machine say little about another.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import os from "node:os";
import type { BenchServer } from "./postgres.js";

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  postgres: string;
  postgresSettings: Record<string, string>;
  database: "embedded" | "BENCH_DATABASE_URL";
  psql: string | null;
  /** 1, 5 and 15 minute load averages when the benchmark started: other work on the machine skews every figure. */
  loadAverage: number[];
}

export function machine(server: BenchServer): Machine {
  let osName = `${os.type()} ${os.release()}`;
  try {
    const pretty = /^PRETTY_NAME="?([^"\n]+)"?/m.exec(readFileSync("/etc/os-release", "utf8"));
    if (pretty) osName = `${pretty[1]} (${os.type()} ${os.release()})`;
  } catch {
    // not Linux: the kernel name will do
  }
  const psql = spawnSync("psql", ["--version"], { encoding: "utf8" });
  return {
    cpu: os.cpus()[0]?.model.trim() ?? "unknown",
    cores: os.availableParallelism(),
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    os: osName,
    node: process.version,
    postgres: server.version,
    postgresSettings: server.settings,
    database: server.embedded ? "embedded" : "BENCH_DATABASE_URL",
    psql: psql.status === 0 ? psql.stdout.trim() : null,
    loadAverage: os.loadavg().map((n) => Math.round(n * 100) / 100),
  };
}
