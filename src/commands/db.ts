// `contacts-sync db`: keeps the embedded PostgreSQL running (started if need be), migrated, and prints how
// to connect to it. Its port is chosen once per data directory and kept, so saved connections keep working.
import { openApp } from "../app.js";
import { ConfigError } from "../errors.js";
import { onShutdown } from "../signals.js";
import { urlWithSearchPath } from "../db/schema.js";
import type { CommandContext } from "./table.js";

export async function dbCommand({ values, config, logger, out }: CommandContext): Promise<number> {
  let port: number | undefined;
  if (values.port !== undefined) {
    port = Number(values.port);
    if (!/^\d+$/.test(String(values.port)) || port < 1 || port > 65535) throw new ConfigError([`--port: expected a port number from 1 to 65535, got "${String(values.port)}"`]);
    if (config.databaseUrl) throw new ConfigError(["--port sets the embedded PostgreSQL's port; DATABASE_URL is set, so the embedded one is not used"]);
  }
  const app = await openApp(config, logger, { port });
  const stopped = new Promise<void>((resolve) => {
    const unsubscribe = onShutdown(logger, () => {
      unsubscribe();
      resolve();
    }, { message: "stopping the database" });
  });
  try {
    out(
      `${app.embedded ? "embedded PostgreSQL" : "PostgreSQL"} is up, schema migrated:\n  psql "${app.embedded ? urlWithSearchPath(app.embedded.url, app.db.schema) : "$DATABASE_URL"}"\n` +
        (app.embedded ? `(the same URL every time for ${config.dataDir}: the port and password are kept there)\n` : "") +
        `The mirror is in the schema ${app.db.schema}${app.embedded ? " (the URL starts sessions there)" : `: SET search_path TO ${app.db.schema}; or name its tables ${app.db.schema}.contacts`}.\n` +
        "Ctrl-C stops it.",
    );
    await stopped;
    return 0;
  } finally {
    await app.close();
  }
}
