// Builds the real pieces for a sync test: the API double, a fresh database, the real client.
import { InboxClient } from "../../src/api/client.js";
import type { Logger } from "../../src/log.js";
import { startApiDouble, type ApiDouble, type DoubleOptions } from "../../src/double/server.js";
import type { SyncContext } from "../../src/sync/runPass.js";
import { guessedStrategy } from "../../src/sync/strategy.js";
import type { Strategy } from "../../src/probe/profile.js";
import { createDatabase, type TestDatabase } from "./db.js";
import { quietLogger } from "./logs.js";

export const TOKEN = "test-token-5f2a9c1e7b3d4a60";

export interface Rig {
  double: ApiDouble;
  db: TestDatabase;
  client: InboxClient;
  ctx: SyncContext;
  close(): Promise<void>;
}

export async function startRig(
  doubleOptions: Partial<DoubleOptions> = {},
  options: {
    logger?: Logger; retries?: number; timeoutMs?: number; account?: string; lookbackMs?: number; lagMs?: number; concurrency?: number; lanePages?: number;
    /** The strategy to read with; default the documented guess (the double's default behaviour). null: measure the API as the product does. */
    strategy?: Strategy | null;
  } = {},
): Promise<Rig> {
  const double = await startApiDouble({ token: TOKEN, ...doubleOptions });
  const db = await createDatabase();
  // As the product does (src/app.ts): a connection per lane, plus the account lock.
  db.pool.options.max = (options.concurrency ?? 4) + 3;
  const logger = options.logger ?? quietLogger();
  const client = new InboxClient({
    baseUrl: new URL(double.url),
    token: TOKEN,
    filters: {},
    timeoutMs: options.timeoutMs ?? 5_000,
    retries: options.retries ?? 6,
    logger,
    minBackoffMs: 5,
    maxBackoffMs: 50,
    maxRetryAfterMs: 50,
  });
  const ctx: SyncContext = {
    db,
    client,
    logger,
    config: {
      account: options.account ?? "default",
      startAt: new Date("2000-01-01T00:00:00Z"),
      lookbackMs: options.lookbackMs ?? 60_000,
      lagMs: options.lagMs ?? 0,
      concurrency: options.concurrency ?? 4,
    },
    lanePages: options.lanePages ?? 4,
  };
  if (options.strategy !== null) ctx.strategy = options.strategy ?? guessedStrategy();
  return {
    double,
    db,
    client,
    ctx,
    async close() {
      await client.close();
      await double.close();
      await db.drop();
    },
  };
}

/** The mirror's live contacts as id -> raw, for comparing with the double. */
export async function mirror(db: TestDatabase, account = "default"): Promise<Map<string, unknown>> {
  const rows = await db.prisma.$queryRaw<{ id: string; raw: unknown }[]>`
    SELECT id, raw FROM contacts WHERE account = ${account} AND deleted_at IS NULL`;
  return new Map(rows.map((r) => [r.id, r.raw]));
}

/** What a complete, unfiltered listing of the double returns right now, as id -> contact JSON. */
export function source(double: ApiDouble, predicate: (c: Record<string, unknown>) => boolean = () => true): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const c of double.store.visible() as unknown as Record<string, unknown>[]) {
    if (c.isContact !== true || !predicate(c)) continue;
    out.set(String(c._id), JSON.parse(JSON.stringify(c)));
  }
  return out;
}
