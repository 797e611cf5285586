// Connections to PostgreSQL: Prisma (engine-free, through @prisma/adapter-pg) for the data path, and a
// plain pg pool for what Prisma does not do (multi-statement migrations, session advisory locks).
import pg from "pg";
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "../generated/prisma/client.js";
import { DEFAULT_SCHEMA, quoteIdent } from "./schema.js";

export type { PrismaClient };

export interface Database {
  prisma: PrismaClient;
  pool: pg.Pool;
  url: string;
  /** The mirror's schema (DATABASE_SCHEMA): every connection's search_path, and Prisma's. */
  schema: string;
  close(): Promise<void>;
}

export function openDatabase(url: string, options: { poolSize?: number; schema?: string } = {}): Database {
  const schema = options.schema ?? DEFAULT_SCHEMA;
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? 4,
    connectionTimeoutMillis: 10_000,
    application_name: "contacts-sync",
  });
  survivesServerLoss(pool);
  useSchema(pool, schema);
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool, { schema }) });
  let closed = false;
  return {
    prisma,
    pool,
    url,
    schema,
    async close() {
      if (closed) return;
      closed = true;
      await prisma.$disconnect().catch(() => undefined);
      await pool.end().catch(() => undefined);
    },
  };
}

/**
 * A server that goes away (restart, failover, `pg_ctl stop`) sends each connection an error. pg emits it on
 * the client, and an error event nobody listens to ends the process: the pool listens only while a client is
 * idle, so a client checked out between two queries (a remap batch, a lock, a migration) would crash the
 * worker. Every client gets a listener of its own from the start; the query that next uses a dead client
 * fails with an ordinary error, and the pool drops that client when it is released.
 */
export function survivesServerLoss(pool: pg.Pool): void {
  pool.on("error", () => undefined);
  pool.on("connect", (client) => client.on("error", () => undefined));
}

const schemas = new WeakMap<pg.Pool, string>();

/**
 * Every connection of `pool` works in `schema`: the mirror's SQL names its tables without a schema. Set by
 * pg-pool's onConnect hook, which it awaits before handing the new connection to anyone (a failure fails
 * that checkout), rather than as a startup option, which a DATABASE_URL with its own `?options=` would
 * replace and PgBouncer refuses. Only that schema: pg_catalog is always searched, and nothing of another
 * application in `public` can stand in for a table of ours.
 */
export function useSchema(pool: pg.Pool, schema: string): void {
  schemas.set(pool, schema);
  const sql = `SET search_path TO ${quoteIdent(schema)}`;
  const options = pool.options as pg.PoolOptions & { onConnect?: (client: pg.PoolClient) => unknown };
  const before = options.onConnect;
  options.onConnect = async (client) => {
    await before?.(client);
    await client.query(sql);
  };
}

/** The schema useSchema gave `pool`; the default for a pool made elsewhere. */
export function schemaOf(pool: pg.Pool): string {
  return schemas.get(pool) ?? DEFAULT_SCHEMA;
}
