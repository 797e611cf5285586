// Wiring: configuration -> logger -> database (yours, or the embedded one) -> migrations -> API client.
// The CLI and the worker both start here, so every command sees the product the same way.
import type { Config } from "./config.js";
import { openDatabase, type Database } from "./db/client.js";
import { startEmbeddedPostgres, type EmbeddedDatabase } from "./db/embedded.js";
import { migrate } from "./db/migrate.js";
import { InboxClient, type ClientOptions } from "./api/client.js";
import { configureMapping } from "./records/mapContact.js";
import { describeDatabaseUrl, registerSecret, type Logger } from "./log.js";

export interface App {
  config: Config;
  logger: Logger;
  db: Database;
  embedded: EmbeddedDatabase | undefined;
  close(): Promise<void>;
}

/** `port`: the embedded PostgreSQL's port (db --port); ignored with DATABASE_URL. */
export async function openApp(config: Config, logger: Logger, options: { migrate?: boolean; port?: number } = {}): Promise<App> {
  registerSecret(config.token);
  configureMapping({ defaultPhoneRegion: config.defaultPhoneRegion });
  let embedded: EmbeddedDatabase | undefined;
  let url = config.databaseUrl;
  if (!url) {
    embedded = await startEmbeddedPostgres(config.dataDir, logger, undefined, { port: options.port });
    url = embedded.url;
  }
  // Each lane of a window writes on its own connection; plus the account lock and the status queries. With
  // ACCOUNTS_FILE, up to SYNC_ACCOUNTS_CONCURRENCY passes (lanes and lock each) share the pool.
  const passes = config.accountsFile !== undefined ? config.accountsConcurrency : 1;
  const db = openDatabase(url, { poolSize: (config.concurrency + 1) * passes + 2, schema: config.databaseSchema });
  try {
    await db.pool.query("select 1");
  } catch (error) {
    await db.close();
    await embedded?.stop();
    throw new Error(
      `Cannot connect to PostgreSQL at ${describeDatabaseUrl(url)}: ${(error as Error).message}. ` +
        "Check DATABASE_URL and that the server is running; nothing was requested or written.",
    );
  }
  if (options.migrate !== false) await migrate(db.pool, logger);
  return {
    config,
    logger,
    db,
    embedded,
    async close() {
      await db.close();
      await embedded?.stop();
    },
  };
}

/** `extra`: the worker's metrics hooks (onAnswer, onRetry), and timings that tests shorten. */
export function createClient(config: Config, logger: Logger, token = config.token, extra: Partial<ClientOptions> = {}): InboxClient {
  if (!token) throw new Error("INBOX_API_TOKEN is required for this command");
  return new InboxClient({
    baseUrl: config.apiUrl,
    token,
    filters: config.filters,
    timeoutMs: config.timeoutMs,
    retries: config.retries,
    logger,
    ...extra,
  });
}
