// The write ceiling: the same contacts, mapped by the product's own mapContact into the same columns, loaded
// with COPY into an empty `contacts` table made by the project's migrations (same definition and indexes).
// The COPY goes through `psql` (COPY FROM STDIN over the wire, as the sync's data does) when psql is on the
// PATH; otherwise, for the embedded server only, as a server-side COPY FROM a file. Only the COPY is timed:
// building the file (mapping, serialising) is the client's work, which the sync's figure includes and this
// one deliberately does not.
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { createWriteStream, chmodSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import pg from "pg";
import type { Contact } from "../src/double/generate.js";
import { postgresCpuSeconds } from "./cpu.js";
import { arrayLiteral, CONTACT_COLUMNS, mapContact } from "../src/records/mapContact.js";
import type { RawContact } from "../src/api/response.js";

export type CopyMethod = "psql" | "server-file";

export function copyMethod(embedded: boolean): CopyMethod | null {
  if (spawnSync("psql", ["--version"], { stdio: "ignore" }).status === 0) return "psql";
  return embedded ? "server-file" : null;
}

/** The columns the COPY files hold, in order (the CSV writeCopyFile writes), quoted and comma-separated. */
export const COPY_COLUMN_LIST = ["account", "id", ...CONTACT_COLUMNS.map((c) => c.column), "synced_at", "deleted_at"].map((c) => `"${c}"`).join(", ");
const columnList = `(${COPY_COLUMN_LIST})`;

/** A server-side COPY of a file writeCopyFile wrote into `table` (the server's OS user reads the file). */
export function copyFromFileSql(table: string, file: string): string {
  return `copy ${table} ${columnList} from '${file.replaceAll("'", "''")}' with (format csv)`;
}

function csvQuote(text: string): string {
  return `"${text.replaceAll('"', '""')}"`;
}

/** One CSV field for a value of the given PostgreSQL type; an unquoted empty field is NULL. */
function field(value: unknown, pgType: string): string {
  if (value === null || value === undefined) return "";
  if (pgType === "jsonb" || pgType === "json") return csvQuote(JSON.stringify(value));
  if (pgType.endsWith("[]")) return csvQuote(arrayLiteral(value as string[]));
  return csvQuote(String(value));
}

/** Writes the contacts as COPY CSV into `file`; returns its size in bytes. */
export async function writeCopyFile(contacts: readonly Contact[], file: string, account = "default"): Promise<number> {
  const out = createWriteStream(file, { mode: 0o644 });
  const syncedAt = new Date().toISOString();
  let buffer = "";
  for (const contact of contacts) {
    const row = mapContact(contact as unknown as RawContact);
    const fields = [csvQuote(account), csvQuote(row.id)];
    for (const c of CONTACT_COLUMNS) fields.push(field(row[c.column], c.pgType));
    fields.push(csvQuote(syncedAt), "");
    buffer += `${fields.join(",")}\n`;
    if (buffer.length > 1 << 20) {
      if (!out.write(buffer)) await once(out, "drain");
      buffer = "";
    }
  }
  out.end(buffer);
  await once(out, "finish");
  return statSync(file).size;
}

export interface CopyMeasure {
  copyMs: number;
  /** CPU seconds of the PostgreSQL server during the COPY (null when not local). */
  postgresCpu: number | null;
  rows: number;
  fileBytes: number;
}

/**
 * Loads `file` into the `contacts` table of `databaseUrl` (empty, freshly migrated) and times the COPY alone.
 */
export async function runCopy(
  databaseUrl: string,
  file: string,
  fileBytes: number,
  method: CopyMethod,
  postmasterPid: number | null,
): Promise<CopyMeasure> {
  // The physical cost of storing the rows: the same table, its triggers (the history's) disabled.
  const setup = new pg.Client({ connectionString: databaseUrl });
  await setup.connect();
  await setup.query("ALTER TABLE contacts DISABLE TRIGGER USER").finally(() => setup.end());
  let copyMs: number;
  const cpuBefore = postgresCpuSeconds(postmasterPid);
  if (method === "psql") {
    // psql reads the file and streams it as COPY FROM STDIN: the data crosses the socket, as the sync's does.
    const started = performance.now();
    const child = spawn("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", databaseUrl, "-c", `\\copy contacts ${columnList} from '${file}' with (format csv)`], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const [code] = (await once(child, "exit")) as [number | null];
    copyMs = performance.now() - started;
    if (code !== 0) throw new Error(`psql \\copy failed (${code}): ${stderr.trim()}`);
  } else {
    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    try {
      const started = performance.now();
      await db.query(copyFromFileSql("contacts", file));
      copyMs = performance.now() - started;
    } finally {
      await db.end();
    }
  }
  // The COPY's backend may still be exiting (its CPU then shows neither as a live child nor as a reaped one):
  // read until the figure stops moving.
  const cpuAfter = await settledCpu(postmasterPid);
  const postgresCpu = cpuBefore === null || cpuAfter === null ? null : cpuAfter - cpuBefore;
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const rows = (await db.query("select count(*)::int as n from contacts")).rows[0].n as number;
    return { copyMs, postgresCpu, rows, fileBytes };
  } finally {
    await db.end();
  }
}

/** A folder for the COPY file that the server's OS user can read too (server-side COPY as `postgres`). */
export function copyDir(base?: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(base ?? tmpdir(), "copy-"));
  chmodSync(dir, 0o755);
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** postgresCpuSeconds once two readings 100 ms apart agree (at most 3 s): exiting backends have been reaped. */
async function settledCpu(postmasterPid: number | null): Promise<number | null> {
  let last = postgresCpuSeconds(postmasterPid);
  for (let i = 0; i < 30 && last !== null; i += 1) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const now = postgresCpuSeconds(postmasterPid);
    if (now === last) return now;
    last = now;
  }
  return last;
}
