// The command line: parses arguments and calls the same functions the worker and the tests use.
import { existsSync } from "node:fs";
import { parseArgs } from "node:util";
import { loadConfig, type Config } from "./config.js";
import { ApiError, ConfigError, ContractError, StoppedError } from "./errors.js";
import { createLogger, scrub, type Logger } from "./log.js";
import { openApp, createClient } from "./app.js";
import { migrate } from "./db/migrate.js";
import { remapContacts } from "./db/sql/remapContacts.js";
import { runBackfill, runIncremental, runReconcile, type RunSummary } from "./sync/runPass.js";
import { checkBackfillRange } from "./sync/windows.js";
import { statusReport, formatStatus } from "./commands/status.js";
import { demo } from "./commands/demo.js";
import { grantReaderCommand, readerRoleArgument } from "./commands/grantReader.js";
import { onShutdown } from "./signals.js";

const USAGE = `contacts-sync: mirror BotPenguin inbox contacts into PostgreSQL

usage: contacts-sync <command> [options]

commands:
  migrate                         bring the database schema up to date
  sync                            one incremental pass over lastSeenAt since the checkpoint
  reconcile [--allow-mass-delete] one full pass over all contacts; marks contacts the API no longer returns deleted
  backfill --from <ISO> --to <ISO>  re-sync one lastSeenAt range without touching the checkpoint
  remap                           re-derive the typed columns of rows an older mapping wrote, from raw
  status [--json]                 what is mirrored, the checkpoints, the last runs
  demo [--contacts N]             run the product out of the box against the bundled API double
  worker                          long-running scheduled mode (SYNC_CRON, RECONCILE_CRON)
  db                              start the embedded PostgreSQL (when DATABASE_URL is unset) and print its URL
  grant-reader <role>             create (if needed) a role that can read the mirror and nothing else (BI tools)
  api-double [options]            run the bundled API double on its own (see --help there)

Settings come from the environment and ./.env; see the README.`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === "help" || command === "--help" || command === "-h") {
    process.stdout.write(`${USAGE}\n`);
    return command ? 0 : 2;
  }
  if (command === "api-double") {
    const { main: doubleMain } = await import("./double/main.js");
    // It serves until SIGTERM/SIGINT, which it handles itself (closing and exiting 0); --help returns at once.
    const running = await doubleMain(rest);
    if (running) await new Promise<never>(() => undefined);
    return 0;
  }
  if (existsSync(".env")) process.loadEnvFile(".env");

  let logger: Logger = createLogger("info");
  try {
    const needsToken = ["sync", "reconcile", "backfill", "worker"].includes(command);
    if (!["migrate", "sync", "reconcile", "backfill", "remap", "status", "demo", "worker", "db", "grant-reader"].includes(command)) {
      process.stderr.write(`unknown command "${command}"\n\n${USAGE}\n`);
      return 2;
    }
    const parsed = parseArgs({
      args: rest,
      strict: true,
      // grant-reader <role> is the one command with a positional argument.
      allowPositionals: command === "grant-reader",
      options: {
        json: { type: "boolean" },
        from: { type: "string" },
        to: { type: "string" },
        contacts: { type: "string" },
        "allow-mass-delete": { type: "boolean" },
      },
    });
    const args: Args = { ...parsed.values, ...(command === "grant-reader" ? { role: readerRoleArgument(parsed.positionals) } : {}) };
    const config = loadConfig(process.env, { needToken: needsToken });
    logger = createLogger(config.logLevel, undefined, config.logFormat);
    return await run(command, args, config, logger);
  } catch (error) {
    return report(error, logger);
  }
}

type Args = { json?: boolean; from?: string; to?: string; contacts?: string; "allow-mass-delete"?: boolean; role?: string };

async function run(command: string, args: Args, config: Config, logger: Logger): Promise<number> {
  if (command === "demo") {
    const contacts = args.contacts === undefined ? 10_000 : Number(args.contacts);
    if (!Number.isInteger(contacts) || contacts < 1 || contacts > 2_000_000) throw new ConfigError(["--contacts: expected a whole number from 1 to 2000000"]);
    process.stdout.write(`${await demo(config, logger, { contacts })}\n`);
    return 0;
  }
  if (command === "worker") {
    const { runWorker } = await import("./worker/worker.js");
    return runWorker(config, logger);
  }
  let range: { from: Date; to: Date } | undefined;
  if (command === "backfill") {
    if (!args.from || !args.to) throw new ConfigError(["backfill needs --from <ISO date> and --to <ISO date>"]);
    range = { from: new Date(args.from), to: new Date(args.to) };
    const problem = checkBackfillRange(range.from, range.to, new Date());
    if (problem) throw new ConfigError([problem]);
  }

  const app = await openApp(config, logger, { migrate: command !== "status" });
  const shutdown = new AbortController();
  const unsubscribe = onShutdown(logger, () => shutdown.abort());
  try {
    if (command === "db") {
      process.stdout.write(`${app.embedded ? "embedded PostgreSQL" : "PostgreSQL"} is up, schema migrated:\n  psql "${app.embedded?.url ?? "$DATABASE_URL"}"\nCtrl-C stops it.\n`);
      await new Promise<void>((resolve) => shutdown.signal.addEventListener("abort", () => resolve()));
      return 0;
    }
    if (command === "migrate") {
      const { applied } = await migrate(app.db.pool, logger);
      process.stdout.write(applied.length ? `applied ${applied.length} migration(s): ${applied.join(", ")}\n` : "schema is up to date\n");
      return 0;
    }
    if (command === "grant-reader") {
      process.stdout.write(`${await grantReaderCommand(app.db, args.role!)}\n`);
      return 0;
    }
    if (command === "remap") {
      const done = await remapContacts(app.db, config.account, logger, { wait: true, signal: shutdown.signal });
      process.stdout.write(`remap: ${done.rows} row(s) re-derived, ${done.changed} of them changed; ${done.remaining === 0 ? "every row is derived by the current mapping" : `${done.remaining} still to do (run remap again)`}\n`);
      return done.remaining === 0 ? 0 : shutdown.signal.aborted ? 130 : 1;
    }
    if (command === "status") {
      const report = await statusReport(app.db, config.account);
      process.stdout.write(args.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatStatus(report)}\n`);
      return 0;
    }
    const client = createClient(config, logger);
    try {
      const ctx = { db: app.db, client, config, logger, signal: shutdown.signal };
      let summary: RunSummary;
      if (command === "sync") summary = await runIncremental(ctx);
      else if (command === "reconcile") summary = await runReconcile(ctx, { allowMassDelete: args["allow-mass-delete"] === true });
      else summary = await runBackfill(ctx, range!);
      process.stdout.write(
        `${summary.kind}: ${summary.status} in ${(summary.durationMs / 1000).toFixed(1)} s; requests ${summary.requests}, ` +
          `received ${summary.received}, inserted ${summary.inserted}, updated ${summary.updated}, unchanged ${summary.unchanged}` +
          `${summary.kind === "reconcile" ? `, marked deleted ${summary.deleted}` : ""}${summary.restored ? `, restored ${summary.restored}` : ""}\n`,
      );
      return 0;
    } finally {
      await client.close();
    }
  } finally {
    unsubscribe();
    await app.close();
  }
}

function report(error: unknown, logger: Logger): number {
  if (error instanceof ConfigError) {
    process.stderr.write(`${scrub(error.message)}\n`);
    return 2;
  }
  if (error instanceof StoppedError) {
    process.stderr.write(`${error.message}\n`);
    return 130;
  }
  if (error instanceof ApiError || error instanceof ContractError) {
    process.stderr.write(`error: ${scrub(error.message)}\n`);
    return 1;
  }
  const message = scrub(error instanceof Error ? error.message : String(error));
  logger.debug({ stack: scrub((error as Error)?.stack ?? "") }, "error details");
  const lost = lostDatabaseConnection(error, message);
  if (lost) {
    process.stderr.write(
      `error: The connection to PostgreSQL was lost during the run (${lost}). Every page committed before that is kept with its ` +
        "checkpoint; the next run resumes from there. Check that the database server is running and reachable (DATABASE_URL).\n",
    );
    return 1;
  }
  process.stderr.write(`error: ${message}\n`);
  return 1;
}

/** The reason, when an error says the database went away mid-run (server stopped, restarted, failed over). */
function lostDatabaseConnection(error: unknown, message: string): string | undefined {
  if (message.startsWith("Cannot connect to PostgreSQL")) return undefined; // before the run: says so already
  const code = String((error as { code?: unknown } | undefined)?.code ?? "");
  const lost =
    /^(57P0[123]|08\d{3}|ECONNRESET|ECONNREFUSED)$/.test(code) ||
    /Connection terminated|connection error and is not queryable|terminating connection (due to|because of)|the database system is (shutting down|starting up|in recovery mode)|Code: `(57P0[123]|08\d{3})`|server closed the connection unexpectedly|Server has closed the connection|Can't reach database server|Error in PostgreSQL connection|timeout exceeded when trying to connect|ECONNRESET|ECONNREFUSED/.test(message);
  if (!lost) return undefined;
  return message.replace(/\s+/g, " ").replace(/^Invalid `[^`]*` invocation: /, "").trim().slice(0, 200);
}
