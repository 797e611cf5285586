// `contacts-sync demo`: the product out of the box. Starts the bundled API double with a realistic data set,
// mirrors it into the configured (or embedded) PostgreSQL under the account "demo", and prints what happened
// and how to look at it. Run it again: the double then sees, creates and edits a few contacts, and the second
// sync fetches just those.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import type { Config } from "../config.js";
import { openApp, createClient } from "../app.js";
import type { Logger } from "../log.js";
import { startApiDouble } from "../double/server.js";
import { runIncremental } from "../sync/runPass.js";

interface DemoState {
  anchor: number;
  runs: number;
}

export async function demo(config: Config, logger: Logger, options: { contacts: number }): Promise<string> {
  mkdirSync(resolve(config.dataDir), { recursive: true });
  const stateFile = resolve(config.dataDir, "demo.json");
  const state: DemoState = existsSync(stateFile) ? JSON.parse(readFileSync(stateFile, "utf8")) : { anchor: Date.now() - 120_000, runs: 0 };
  // The data set is the same every time (same seed, same clock anchor); what changes between runs is the
  // handful of mutations below, as in a live account between two syncs.
  const token = randomBytes(16).toString("hex");
  const double = await startApiDouble({ token, contacts: options.contacts, seed: 42, now: () => state.anchor, pageSize: 100 });
  const demoConfig: Config = { ...config, account: "demo", apiUrl: new URL(double.url), token, startAt: new Date("2000-01-01T00:00:00Z") };
  const app = await openApp(demoConfig, logger);
  const client = createClient(demoConfig, logger, token);
  try {
    if (state.runs > 0) {
      const seen = double.store.randomIds(25, (c) => c.isContact && c.lastSeenAt !== null);
      for (const id of seen) double.store.see(id, Date.now() - 90_000);
      // New contacts, seen just now (the data set's clock is fixed, so their sighting is set explicitly).
      for (const c of double.store.create(10)) double.store.see(c._id, Date.now() - 90_000);
    }
    const summary = await runIncremental({ db: app.db, client, config: demoConfig, logger });
    state.runs += 1;
    writeFileSync(stateFile, JSON.stringify(state));
    const [row] = await app.db.prisma.$queryRaw<{ n: number }[]>`SELECT count(*)::int AS n FROM contacts WHERE account = 'demo' AND deleted_at IS NULL`;
    const where = app.embedded
      ? `./bin/contacts-sync db   (keeps the embedded PostgreSQL under ${resolve(config.dataDir)} running and prints its psql URL)`
      : `psql "$DATABASE_URL"`;
    return [
      `demo run ${state.runs}: ${summary.status} in ${(summary.durationMs / 1000).toFixed(1)} s`,
      `  requests ${summary.requests}, pages ${summary.pages}, contacts received ${summary.received}`,
      `  inserted ${summary.inserted}, updated ${summary.updated}, unchanged ${summary.unchanged}`,
      `  window ${summary.windows.map((w) => `${w.from} .. ${w.to}`).join(", ")}`,
      `the mirror now holds ${row?.n ?? 0} demo contacts (account 'demo').`,
      state.runs === 1
        ? "run `./bin/contacts-sync demo` again: the second run is incremental and fetches only what changed."
        : "this run was incremental: it read only the window since the last checkpoint.",
      `look at it: ${where}`,
      `  then: SELECT name, email, status, tags, last_seen_at FROM contacts WHERE account = 'demo' ORDER BY last_seen_at DESC NULLS LAST LIMIT 10;`,
    ].join("\n");
  } finally {
    await client.close();
    await double.close();
    await app.close();
  }
}
