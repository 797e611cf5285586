// Shared pieces of the reliability suite (test/reliability): the CLI as a user runs it, the comparison of
// the mirror with the API double's own contacts, the "checkpoint never ahead of the data" check, a real
// HTTP proxy that rewrites answers, and a throwaway PostgreSQL server that a test may stop and start.
// Nothing here mocks PostgreSQL or HTTP: every byte goes over real sockets to real servers.
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { vi } from "vitest";
import type { ApiDouble } from "../../src/double/server.js";
import { freePort } from "../../src/db/embedded.js";

export { BIN, ROOT } from "../helpers/cli.js";
import { ROOT } from "../helpers/cli.js";
/** The bearer token of every scenario: long and distinctive, so that a search for it cannot miss. */
export const TOKEN = "rel-tok-7Qz9xK2mVb4Lp8Nw3Rt6";

/**
 * `npm run test:chaos` sets RELIABILITY_SOAK=1: more kill points, more contacts, more pages. `npm test`
 * runs the same files at the normal size (the whole of test/reliability in about two minutes on 2 cores).
 */
export const SOAK = process.env.RELIABILITY_SOAK === "1";
export const size = <T>(normal: T, soak: T): T => (SOAK ? soak : normal);

// Generous limits (no test asserts on time): two minutes a test at the normal size, twenty at the soak's.
vi.setConfig({ testTimeout: size(120_000, 1_200_000), hookTimeout: size(120_000, 600_000) });

/** What the reliability report shows for a test besides pass/fail (see scripts/reliability-report.mjs). */
export function observe(task: { meta: object }, observed: string): void {
  (task.meta as Record<string, unknown>).observed = observed;
}

// ---------------------------------------------------------------------------------------------------------
// The CLI, exactly as a user runs it.

export { cli, startCli, type CliProcess, type CliResult } from "../helpers/cli.js";

/** The settings of a scenario: the double (or a proxy) as the API, one database, no lag. */
export function cliEnv(apiUrl: string, databaseUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    INBOX_API_URL: apiUrl,
    INBOX_API_TOKEN: TOKEN,
    DATABASE_URL: databaseUrl,
    SYNC_LAG: "0",
    SYNC_LOOKBACK: "0",
    SYNC_START_AT: "2000-01-01",
    LOG_FORMAT: "json",
    ...extra,
  };
}

// ---------------------------------------------------------------------------------------------------------
// The mirror against the double's own contacts.

type Json = Record<string, unknown>;

/** PostgreSQL cannot store NUL; the product replaces it by U+FFFD in keys and values (README). */
export function expectedRaw(value: unknown): unknown {
  if (typeof value === "string") return value.replaceAll("\u0000", "\uFFFD");
  if (Array.isArray(value)) return value.map(expectedRaw);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k.replaceAll("\u0000", "\uFFFD"), expectedRaw(v)]));
  }
  return value;
}

/** What a complete, unfiltered listing of the double returns now (contacts only, deleted ones hidden). */
export function sourceContacts(double: ApiDouble, predicate: (c: Json) => boolean = () => true): Map<string, Json> {
  const out = new Map<string, Json>();
  for (const c of double.store.visible() as unknown as Json[]) {
    if (c.isContact !== true || !predicate(c)) continue;
    out.set(String(c._id), expectedRaw(JSON.parse(JSON.stringify(c))) as Json);
  }
  return out;
}

export interface MirrorRow {
  id: string;
  raw: Json;
  deleted: boolean;
}

export async function mirrorRows(db: pg.Pool | pg.Client, account = "default"): Promise<Map<string, MirrorRow>> {
  const { rows } = await db.query<{ id: string; raw: Json; deleted: boolean }>(
    "SELECT id, raw, deleted_at IS NOT NULL AS deleted FROM contacts WHERE account = $1",
    [account],
  );
  return new Map(rows.map((r) => [r.id, r]));
}

export interface Comparison {
  live: number;
  deleted: number;
  missing: string[];
  extra: string[];
  different: string[];
  deletedButLive: string[];
}

/**
 * The mirror against the double: the same ids live, the same content (raw), and every mirrored contact the
 * double no longer lists marked deleted. Empty lists = exact.
 */
export async function compareMirror(db: pg.Pool | pg.Client, double: ApiDouble, account = "default", predicate?: (c: Json) => boolean): Promise<Comparison> {
  const expected = sourceContacts(double, predicate);
  const rows = await mirrorRows(db, account);
  const out: Comparison = { live: 0, deleted: 0, missing: [], extra: [], different: [], deletedButLive: [] };
  for (const [id, row] of rows) {
    if (row.deleted) {
      out.deleted += 1;
      if (expected.has(id)) out.deletedButLive.push(id);
      continue;
    }
    out.live += 1;
    const want = expected.get(id);
    if (!want) out.extra.push(id);
    else if (!deepEqual(row.raw, want)) out.different.push(id);
  }
  for (const id of expected.keys()) if (!rows.has(id)) out.missing.push(id);
  return out;
}

/** A summary that reads well in an assertion message and in the report. */
export function exactness(c: Comparison): { missing: number; extra: number; different: number; deletedButLive: number } {
  return { missing: c.missing.length, extra: c.extra.length, different: c.different.length, deletedButLive: c.deletedButLive.length };
}
export const EXACT = { missing: 0, extra: 0, different: 0, deletedButLive: 0 };

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== "object") return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((v, i) => deepEqual(v, bb[i]));
  }
  const ka = Object.keys(a as Json);
  const kb = Object.keys(b as Json);
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(b as Json, k) && deepEqual((a as Json)[k], (b as Json)[k]));
}

// ---------------------------------------------------------------------------------------------------------
// The checkpoint is never ahead of the data (for a double whose data does not change meanwhile).

export interface CheckpointState {
  incremental: { syncedUntil: Date | null; windowStart: Date | null; windowEnd: Date | null; cursor: Date | null; pageSize: number | null } | null;
  reconcile: { windowEnd: Date | null; cursor: Date | null; runId: string | null } | null;
}

export async function readCheckpoints(db: pg.Pool | pg.Client, account = "default"): Promise<CheckpointState> {
  const { rows } = await db.query(
    "SELECT kind, synced_until, window_start, window_end, cursor, run_id::text AS run_id, page_size FROM sync_checkpoints WHERE account = $1",
    [account],
  );
  const inc = rows.find((r) => r.kind === "incremental");
  const rec = rows.find((r) => r.kind === "reconcile");
  return {
    incremental: inc ? { syncedUntil: inc.synced_until, windowStart: inc.window_start, windowEnd: inc.window_end, cursor: inc.cursor, pageSize: inc.page_size } : null,
    reconcile: rec ? { windowEnd: rec.window_end, cursor: rec.cursor, runId: rec.run_id } : null,
  };
}

const time = (v: unknown): number | null => (typeof v === "string" ? Date.parse(v) : null);

/**
 * Every contact the checkpoints claim is covered is mirrored, with the content the double lists:
 * - incremental: lastSeenAt in [SYNC_START_AT, synced_until]; and, for a window under way, lastSeenAt in
 *   the window and createdAt above the cursor (the cursor is the oldest createdAt read: rows sharing it may
 *   follow, so the next request covers it again);
 * - reconcile under way: createdAt in (cursor, createdUpTo], and each of them recorded as seen by the pass.
 * Returns the ids that break it (empty: the checkpoint is not ahead of the data) and how many were covered.
 */
export async function checkpointAhead(
  db: pg.Pool | pg.Client,
  double: ApiDouble,
  startAt: Date,
  account = "default",
  /** false once the source changed silently: a lastSeenAt window cannot see such edits (by design), so only ids are checked. */
  { incrementalContent = true }: { incrementalContent?: boolean } = {},
): Promise<{ violations: string[]; covered: number; state: CheckpointState }> {
  const state = await readCheckpoints(db, account);
  const rows = await mirrorRows(db, account);
  const source = sourceContacts(double);
  const violations: string[] = [];
  let covered = 0;
  const check = (id: string, c: Json, why: string, content = true) => {
    covered += 1;
    const row = rows.get(id);
    if (!row) violations.push(`${id} (${why}): not mirrored`);
    else if (row.deleted) violations.push(`${id} (${why}): marked deleted`);
    else if (content && !deepEqual(row.raw, c)) violations.push(`${id} (${why}): content differs`);
  };
  const inc = state.incremental;
  for (const [id, c] of source) {
    const seen = time(c.lastSeenAt);
    const created = time(c.createdAt)!;
    if (inc?.syncedUntil && seen !== null && seen >= startAt.getTime() && seen <= inc.syncedUntil.getTime()) check(id, c, "lastSeenAt within synced_until", incrementalContent);
    else if (inc?.windowStart && inc.windowEnd && inc.cursor && seen !== null && seen >= inc.windowStart.getTime() && seen <= inc.windowEnd.getTime() && created > inc.cursor.getTime()) {
      check(id, c, "above the incremental cursor", incrementalContent);
    }
  }
  const rec = state.reconcile;
  if (rec?.windowEnd && rec.cursor && rec.runId) {
    const seen = new Set((await db.query<{ id: string }>("SELECT id FROM reconcile_seen WHERE run_id = $1 AND account = $2", [rec.runId, account])).rows.map((r) => r.id));
    for (const [id, c] of source) {
      const created = time(c.createdAt)!;
      if (created > rec.cursor.getTime() && created <= rec.windowEnd.getTime()) {
        check(id, c, "above the reconcile cursor");
        if (!seen.has(id)) violations.push(`${id} (above the reconcile cursor): not recorded as seen by the pass`);
      }
    }
  }
  return { violations, covered, state };
}

/** The run figures are written in each page's transaction: they must add up to what the tables hold. */
export async function runFigures(db: pg.Pool | pg.Client, account = "default"): Promise<{ contacts: number; inserted: number; updated: number; deletedMarks: number; deleted: number }> {
  const { rows } = await db.query(
    `SELECT (SELECT count(*)::int FROM contacts WHERE account = $1) AS contacts,
            (SELECT count(*)::int FROM contacts WHERE account = $1 AND deleted_at IS NOT NULL) AS deleted_marks,
            coalesce(sum(inserted), 0)::int AS inserted, coalesce(sum(updated), 0)::int AS updated, coalesce(sum(deleted), 0)::int AS deleted
     FROM sync_runs WHERE account = $1`,
    [account],
  );
  const r = rows[0];
  return { contacts: r.contacts, inserted: r.inserted, updated: r.updated, deletedMarks: r.deleted_marks, deleted: r.deleted };
}

// ---------------------------------------------------------------------------------------------------------
// A real HTTP proxy in front of the double that can replace or rewrite any answer.

export interface Upstream {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export type ProxyAnswer =
  | { status: number; body: string | Buffer; headers?: Record<string, string> }
  | "reset"
  | { hangMs: number };

export interface ProxyRequest {
  /** 1-based count of requests since the last reset(). */
  n: number;
  body: Json;
}

export type Tamper = (req: ProxyRequest, upstream: () => Promise<Upstream>) => Promise<ProxyAnswer | undefined> | ProxyAnswer | undefined;

export interface Proxy {
  url: string;
  /** Bodies of the requests received since the last reset(), in order. */
  requests: Json[];
  tamper: Tamper | undefined;
  reset(): void;
  close(): Promise<void>;
}

export async function startProxy(target: string): Promise<Proxy> {
  const proxy: Proxy = {
    url: "",
    requests: [],
    tamper: undefined,
    reset() {
      proxy.requests = [];
    },
    close: async () => undefined,
  };
  const forward = (headers: http.IncomingHttpHeaders, body: string) => async (): Promise<Upstream> => {
    const res = await fetch(`${target}/inbox/users`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: String(headers.authorization ?? ""), "accept-encoding": "identity" },
      body,
    });
    return { status: res.status, headers: Object.fromEntries(res.headers.entries()), body: await res.text() };
  };
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c));
    req.on("end", () => {
      void (async () => {
        const parsed = JSON.parse(body || "{}") as Json;
        proxy.requests.push(parsed);
        const upstream = forward(req.headers, body);
        const answer = (await proxy.tamper?.({ n: proxy.requests.length, body: parsed }, upstream)) ?? (await passThrough(upstream));
        if (answer === "reset") return void req.socket.destroy();
        if ("hangMs" in answer) return void setTimeout(() => req.socket.destroy(), answer.hangMs);
        res.writeHead(answer.status, { "content-type": "application/json; charset=utf-8", ...answer.headers });
        res.end(answer.body);
      })().catch((error: unknown) => {
        res.writeHead(599, { "content-type": "text/plain" });
        res.end(`proxy failure: ${String(error)}`);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  proxy.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return proxy;
}

async function passThrough(upstream: () => Promise<Upstream>): Promise<ProxyAnswer> {
  const u = await upstream();
  return { status: u.status, body: u.body, headers: { "content-type": u.headers["content-type"] ?? "application/json" } };
}

/** An answer of the documented wrapper with these rows. */
export function ok(rows: unknown[]): ProxyAnswer {
  return { status: 200, body: JSON.stringify({ success: true, message: "ok", code: 200, data: rows }) };
}

// ---------------------------------------------------------------------------------------------------------
// A throwaway PostgreSQL server of its own (PostgreSQL 15 binaries on PATH), that a test may stop and start.

export interface ThrowawayPostgres {
  url: string;
  port: number;
  stop(mode?: "fast" | "immediate"): void;
  start(): void;
  destroy(): void;
}

export async function startThrowawayPostgres(): Promise<ThrowawayPostgres> {
  const dir = mkdtempSync(join(tmpdir(), "contacts-sync-outage-"));
  chmodSync(dir, 0o755);
  const data = join(dir, "data");
  const port = await freePort();
  const root = process.getuid?.() === 0;
  // As root, PostgreSQL refuses to run: its commands run as the `postgres` OS user.
  const run = (cmd: string, args: string[]) => {
    if (root) execFileSync("runuser", ["-u", "postgres", "--", cmd, ...args], { stdio: "pipe" });
    else execFileSync(cmd, args, { stdio: "pipe" });
  };
  if (root) execFileSync("chown", ["postgres", dir]);
  const pwfile = join(dir, "pw");
  writeFileSync(pwfile, "outage-test\n");
  if (root) execFileSync("chown", ["postgres", pwfile]);
  run("initdb", ["-D", data, "-U", "postgres", "--pwfile", pwfile, "--auth=md5", "-E", "UTF8", "--no-sync"]);
  const log = join(dir, "log");
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`;
  const server: ThrowawayPostgres = {
    url: `postgresql://postgres:outage-test@127.0.0.1:${port}/postgres`,
    port,
    start: () => run("pg_ctl", ["-D", data, "-l", log, "-o", options, "-w", "-t", "60", "start"]),
    stop: (mode = "fast") => run("pg_ctl", ["-D", data, "-m", mode, "-w", "-t", "60", "stop"]),
    destroy: () => {
      try {
        if (existsSync(join(data, "postmaster.pid"))) server.stop("immediate");
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
  server.start();
  return server;
}

export function readText(path: string): string {
  return readFileSync(path, "utf8");
}

/** Polls until `check` returns a value (not undefined), at most `limitMs`. */
export async function until<T>(check: () => Promise<T | undefined> | T | undefined, limitMs = 30_000, everyMs = 20): Promise<T> {
  const end = Date.now() + limitMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`condition not reached within ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

// ---------------------------------------------------------------------------------------------------------
// Kill points inside PostgreSQL: triggers that report every committed checkpoint write (NOTIFY is delivered
// only on COMMIT) and can pause a chosen transaction after its upsert or its checkpoint write, so a test can
// SIGKILL the process exactly there. They live in the test's own database, next to the product's tables.

export const CHAOS_SQL = `
CREATE SEQUENCE chaos_upsert_seq;
CREATE SEQUENCE chaos_checkpoint_seq;
CREATE SEQUENCE chaos_closing_seq;
CREATE TABLE chaos_control (kind text PRIMARY KEY, pause_at bigint NOT NULL, pause_seconds float8 NOT NULL DEFAULT 20);

CREATE FUNCTION chaos_pause(k text, n bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE s float8;
BEGIN
  SELECT pause_seconds INTO s FROM chaos_control WHERE kind = k AND pause_at = n;
  IF s IS NOT NULL THEN PERFORM pg_sleep(s); END IF;
END $$;

CREATE FUNCTION chaos_after_upsert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM chaos_pause('upsert', nextval('chaos_upsert_seq'));
  RETURN NULL;
END $$;
CREATE TRIGGER chaos_after_upsert AFTER INSERT ON contacts FOR EACH STATEMENT EXECUTE FUNCTION chaos_after_upsert();

CREATE FUNCTION chaos_after_checkpoint() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  n bigint := nextval('chaos_checkpoint_seq');
  closing boolean := TG_OP = 'UPDATE' AND OLD.window_end IS NOT NULL AND NEW.window_end IS NULL;
BEGIN
  PERFORM pg_notify('chaos', json_build_object(
    'n', n, 'kind', NEW.kind, 'cursor', NEW.cursor, 'closing', closing,
    'contacts', (SELECT count(*) FROM contacts),
    'deleted', (SELECT count(*) FROM contacts WHERE deleted_at IS NOT NULL))::text);
  PERFORM chaos_pause('checkpoint', n);
  IF closing THEN PERFORM chaos_pause('closing', nextval('chaos_closing_seq')); END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER chaos_after_checkpoint AFTER INSERT OR UPDATE ON sync_checkpoints FOR EACH ROW EXECUTE FUNCTION chaos_after_checkpoint();
`;

export interface ChaosCommit {
  n: number;
  kind: string;
  cursor: string | null;
  closing: boolean;
  contacts: number;
  deleted: number;
}

export interface Chaos {
  /** Committed checkpoint writes, in commit order. */
  commits: ChaosCommit[];
  onCommit: ((c: ChaosCommit) => void) | undefined;
  /** Pause the `k`-th (1-based, from now on) event of this kind inside its transaction. */
  pauseAt(kind: "upsert" | "checkpoint" | "closing", k: number): Promise<void>;
  clearPauses(): Promise<void>;
  /** Backends of the product (application_name contacts-sync) connected to the database. */
  productBackends(): Promise<{ pid: number; sleeping: boolean }[]>;
  close(): Promise<void>;
}

export async function installChaos(databaseUrl: string): Promise<Chaos> {
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  await admin.query(CHAOS_SQL);
  // A backend whose client died notices it within 50 ms even while it sleeps in a trigger, and rolls back:
  // no transaction of a killed process can commit after the kill.
  const { rows } = await admin.query<{ db: string }>("SELECT current_database() AS db");
  await admin.query(`ALTER DATABASE "${rows[0]!.db}" SET client_connection_check_interval = '50ms'`);
  const listener = new pg.Client({ connectionString: databaseUrl });
  await listener.connect();
  const chaos: Chaos = {
    commits: [],
    onCommit: undefined,
    async pauseAt(kind, k) {
      const seq = await admin.query<{ last_value: string; is_called: boolean }>(`SELECT last_value, is_called FROM chaos_${kind}_seq`);
      const next = Number(seq.rows[0]!.last_value) + (seq.rows[0]!.is_called ? 1 : 0);
      await admin.query("INSERT INTO chaos_control (kind, pause_at) VALUES ($1, $2) ON CONFLICT (kind) DO UPDATE SET pause_at = EXCLUDED.pause_at", [kind, next + k - 1]);
    },
    async clearPauses() {
      await admin.query("DELETE FROM chaos_control");
    },
    async productBackends() {
      const r = await admin.query<{ pid: number; sleeping: boolean }>(
        "SELECT pid, wait_event = 'PgSleep' AS sleeping FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'contacts-sync'",
      );
      return r.rows;
    },
    async close() {
      await listener.end();
      await admin.end();
    },
  };
  listener.on("notification", (message) => {
    if (message.channel !== "chaos" || !message.payload) return;
    const c = JSON.parse(message.payload) as ChaosCommit;
    chaos.commits.push(c);
    chaos.onCommit?.(c);
  });
  await listener.query("LISTEN chaos");
  return chaos;
}

/** A pool for the test's own queries, named so that it is never taken for the product's connections. */
export function testPool(url: string): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max: 3, application_name: "reliability-test" });
  pool.on("error", () => undefined);
  return pool;
}
