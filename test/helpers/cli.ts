// ./bin/contacts-sync in a child process, as a user runs it: only the settings the test gives (no developer
// .env, no inherited environment), with its output captured. Needs the build (npm ci runs it).
import { spawn } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const BIN = join(ROOT, "bin/contacts-sync");

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliProcess {
  pid: number;
  kill(): void;
  done: Promise<CliResult>;
  /** Output so far, while it runs. */
  stderr(): string;
  stdout(): string;
}

export function startCli(args: string[], env: Record<string, string>): CliProcess {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    // Only what the test gives: no developer .env, no inherited settings.
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", CONTACTS_SYNC_DATA_DIR: "/nonexistent-do-not-use", ...env },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c));
  child.stderr.on("data", (c: Buffer) => (stderr += c));
  const done = new Promise<CliResult>((resolve) => child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { pid: child.pid!, kill: () => void child.kill("SIGKILL"), done, stderr: () => stderr, stdout: () => stdout };
}

export function cli(args: string[], env: Record<string, string>): Promise<CliResult> {
  return startCli(args, env).done;
}

