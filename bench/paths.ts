// Where things are, whatever the working directory the benchmark was started from.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));
export const BIN = fileURLToPath(new URL("../bin/contacts-sync", import.meta.url));
export const MAXRSS_PRELOAD = fileURLToPath(new URL("./maxrss.mjs", import.meta.url));

/**
 * The Node flags the product runs with, from the executable's first line (`#!/usr/bin/env -S node <flags>`;
 * the Dockerfile's ENTRYPOINT says the same): the benchmark runs the sync as it ships.
 */
export function shippedNodeFlags(bin = BIN): string[] {
  return shippedStart(bin).flags;
}

/** The environment the executable's first line sets for node (e.g. MALLOC_ARENA_MAX). */
export function shippedNodeEnv(bin = BIN): Record<string, string> {
  return shippedStart(bin).env;
}

function shippedStart(bin: string): { env: Record<string, string>; flags: string[] } {
  const first = readFileSync(bin, "utf8").split("\n")[0] ?? "";
  const match = /^#!\/usr\/bin\/env (?:-S )?((?:[A-Z_]+=\S+ )*)node((?: --?[\w-]+(?:=\S+)?)*)\s*$/.exec(first);
  if (!match) throw new Error(`${bin}: the first line is not "#!/usr/bin/env -S [NAME=value ...] node <flags>": ${first}`);
  const env = Object.fromEntries(match[1]!.trim().split(/\s+/).filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
  return { env, flags: match[2]!.trim().split(/\s+/).filter(Boolean) };
}
