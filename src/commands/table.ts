// The command table: every command once, with its summary, its own options, whether it needs the API token
// and whether it brings the schema up to date. Help, validation and dispatch (src/cli.ts) all come from here;
// a new command is one more entry.
//
// What a command runs is imported when it runs (`await import(...)`): a pass does not load the API double,
// the demo or the status report, and `--help` loads none of them. Start-up is CPU and memory that every
// scheduled pass pays (docs/benchmarks.md, "Where the time goes").
import type { Config } from "../config.js";
import type { Logger } from "../log.js";
import { ConfigError, ApiError } from "../errors.js";
import { scrub } from "../log.js";
import type { AccountConfig } from "../accounts.js";
import { DOUBLE_OPTIONS } from "../double/options.js";

const passes = () => import("./passes.js");
const many = () => import("./many.js");
const loadApp = () => import("../app.js");
const signals = () => import("../signals.js");

export interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
  /** The value's placeholder in help, e.g. "<ISO date>". */
  value?: string;
  description: string;
}

export type Values = Record<string, string | boolean | undefined>;

export interface CommandContext {
  values: Values;
  positionals: string[];
  config: Config;
  logger: Logger;
  /** Writes a result (stdout); logs and progress go to stderr. */
  out(text: string): void;
  /** With ACCOUNTS_FILE, for a command that acts on all accounts: the accounts (narrowed by --account). */
  accounts?: AccountConfig[];
}

export interface Command {
  name: string;
  summary: string;
  /** Positional arguments, as shown in usage; none unless given. */
  arguments?: { usage: string; min: number; max: number };
  options: Record<string, OptionSpec>;
  /** Fails before anything starts when no INBOX_API_TOKEN (or _FILE) is set. */
  needsToken: boolean;
  /** Brings the database schema up to date before it runs. */
  migrates: boolean;
  /** Reads the settings (environment and .env); api-double takes everything from its options. */
  usesSettings?: boolean;
  /** More help text, after the options. */
  details?: string;
  /**
   * With ACCOUNTS_FILE: "all" acts on every account (or the one --account names); "one" needs --account (or a
   * file of one account) and runs as today with that account's settings; unset: the file is checked, not used.
   */
  accounts?: "all" | "one";
  run(ctx: CommandContext): Promise<number>;
}

// Options several commands share, defined once.
const account: OptionSpec = { type: "string", value: "<name>", description: "the account to work on (overrides SYNC_ACCOUNT; with ACCOUNTS_FILE, one of its accounts)" };
const accountOfMany: OptionSpec = { type: "string", value: "<name>", description: "the account to work on (overrides SYNC_ACCOUNT; with ACCOUNTS_FILE: only this one, default all)" };
const json: OptionSpec = { type: "boolean", description: "print one machine-readable JSON summary on stdout" };
const quiet: OptionSpec = { type: "boolean", short: "q", description: "no progress line and no info logs (warnings and errors only)" };

export const COMMANDS: Command[] = [
  {
    name: "sync",
    summary: "one incremental pass over lastSeenAt since the checkpoint",
    options: { account: accountOfMany, json, quiet },
    needsToken: true,
    migrates: true,
    accounts: "all",
    run: async (ctx) => (ctx.accounts ? (await many()).passForAccounts("sync", ctx, ctx.accounts) : (await passes()).passCommand("sync", ctx)),
  },
  {
    name: "reconcile",
    summary: "one full pass over every contact; marks contacts the API no longer returns deleted",
    options: {
      account: accountOfMany,
      "allow-mass-delete": { type: "boolean", description: "finish even if the pass would mark more than half of the live contacts deleted" },
      json,
      quiet,
    },
    needsToken: true,
    migrates: true,
    accounts: "all",
    run: async (ctx) => (ctx.accounts ? (await many()).passForAccounts("reconcile", ctx, ctx.accounts) : (await passes()).passCommand("reconcile", ctx)),
  },
  {
    name: "backfill",
    summary: "re-read one lastSeenAt range without touching the checkpoint",
    options: {
      from: { type: "string", value: "<ISO date>", description: "start of the range (required)" },
      to: { type: "string", value: "<ISO date>", description: "end of the range (required)" },
      account,
      json,
      quiet,
    },
    needsToken: true,
    migrates: true,
    accounts: "one",
    run: async (ctx) => (await passes()).passCommand("backfill", ctx),
  },
  {
    name: "status",
    summary: "what is mirrored per account, the checkpoints, the last runs",
    options: { account: { ...account, description: "show this account only (default: every account in the database, or in ACCOUNTS_FILE)" }, json },
    needsToken: false,
    migrates: false,
    accounts: "all",
    run: async ({ values, config, logger, out, accounts }) => {
      const [{ openApp }, { statusReport, formatStatus }] = await Promise.all([loadApp(), import("./status.js")]);
      const app = await openApp(config, logger, { migrate: false });
      try {
        const only = typeof values.account === "string" ? values.account : undefined;
        const report = await statusReport(app.db, only, { maxAgeMs: config.readyMaxAgeMs, names: accounts?.map((a) => a.account) });
        out(values.json ? JSON.stringify(report, null, 2) : formatStatus(report));
        return 0;
      } finally {
        await app.close();
      }
    },
  },
  {
    name: "remap",
    summary: "re-derive the typed columns of rows an older mapping wrote, from raw (resumable)",
    options: { account },
    needsToken: false,
    migrates: true,
    accounts: "one",
    details: "The worker does the same in the background after its passes; this runs it to the end now.",
    run: async ({ config, logger, out }) => {
      const [{ openApp }, { onShutdown }, { remapContacts }] = await Promise.all([loadApp(), signals(), import("../db/sql/remapContacts.js")]);
      const app = await openApp(config, logger);
      const shutdown = new AbortController();
      const unsubscribe = onShutdown(logger, () => shutdown.abort());
      try {
        const done = await remapContacts(app.db, config.account, logger, { wait: true, signal: shutdown.signal });
        out(`remap: ${done.rows} row(s) re-derived, ${done.changed} of them changed; ${done.remaining === 0 ? "every row is derived by the current mapping" : `${done.remaining} still to do (run remap again)`}`);
        // Stopped by a signal: what was re-derived is kept, and the next remap goes on (exit 0, as every command).
        return done.remaining === 0 || shutdown.signal.aborted ? 0 : 1;
      } finally {
        unsubscribe();
        await app.close();
      }
    },
  },
  {
    name: "check",
    summary: "measure what the inbox API does (read-only, at most 40 requests) and whether it can be mirrored safely",
    options: { account: accountOfMany, json },
    needsToken: true,
    migrates: false,
    accounts: "all",
    details:
      "Prints one line per finding and a verdict (exit 1 when the API cannot be mirrored safely, saying why), and stores\n" +
      "the measurement for the account: every pass reads with it. Writes nothing when the API cannot be reached.",
    run: async (ctx) => {
      if (ctx.accounts) return (await many()).checkForAccounts(ctx, ctx.accounts);
      const { values, config, logger, out } = ctx;
      const [{ openApp }, { onShutdown }, { runCheck, formatCheck }] = await Promise.all([loadApp(), signals(), import("./check.js")]);
      // check migrates only once its probe has completed: a failed check writes nothing.
      const app = await openApp(config, logger, { migrate: false });
      const shutdown = new AbortController();
      const unsubscribe = onShutdown(logger, () => shutdown.abort());
      try {
        const check = await runCheck({ db: app.db, config, logger, signal: shutdown.signal }).catch((error: unknown) => {
          // --json prints exactly one object, failure included; the message also goes to stderr.
          if (values.json && error instanceof ApiError) out(JSON.stringify({ ok: false, error: scrub(error.message) }));
          throw error;
        });
        out(values.json ? JSON.stringify(check, null, 2) : formatCheck(check));
        return check.ok ? 0 : 1;
      } finally {
        unsubscribe();
        await app.close();
      }
    },
  },
  {
    name: "demo",
    summary: "run the product out of the box against the bundled API double (account 'demo')",
    options: {
      contacts: { type: "string", value: "<n>", description: "size of the demo data set, 1 to 2000000 (default 10000; set on the first run)" },
      reconcile: { type: "boolean", description: "after the incremental pass, run the full pass that finds silent edits and deletions" },
      accounts: { type: "string", value: "<n>", description: "several accounts (2 to 20), each on its own API double with its own token and data, mirrored side by side (default size 3000)" },
      json,
      quiet,
    },
    needsToken: false,
    migrates: true,
    details: "Run it again: the double has meanwhile seen, created, silently edited and deleted a few contacts.",
    run: async ({ values, config, logger, out }) => {
      const contacts = values.contacts === undefined ? undefined : Number(values.contacts);
      if (contacts !== undefined && (!Number.isInteger(contacts) || contacts < 1 || contacts > 2_000_000)) {
        throw new ConfigError(["--contacts: expected a whole number from 1 to 2000000"]);
      }
      if (values.accounts !== undefined) {
        const accounts = Number(values.accounts);
        if (!Number.isInteger(accounts) || accounts < 2 || accounts > 20) throw new ConfigError(["--accounts: expected a whole number from 2 to 20"]);
        if (values.reconcile) throw new ConfigError(["--accounts: runs the incremental pass of each account; drop --reconcile"]);
        const { demoAccounts } = await import("./demo.js");
        const result = await demoAccounts(config, logger, { accounts, contacts, quiet: values.quiet === true });
        out(values.json ? JSON.stringify(result.json, null, 2) : result.text);
        return 0;
      }
      const { demo } = await import("./demo.js");
      const result = await demo(config, logger, { contacts, reconcile: values.reconcile === true, quiet: values.quiet === true });
      out(values.json ? JSON.stringify(result.json, null, 2) : result.text);
      return 0;
    },
  },
  {
    name: "worker",
    summary: "long-running scheduled mode (SYNC_CRON, RECONCILE_CRON; every account of ACCOUNTS_FILE)",
    options: { account: accountOfMany },
    needsToken: true,
    migrates: true,
    accounts: "all",
    run: async ({ config, logger, values }) => {
      if (config.accountsFile !== undefined) {
        const { runFleet } = await import("../worker/fleet.js");
        return runFleet(config, logger, { only: typeof values.account === "string" ? values.account : undefined });
      }
      const { runWorker } = await import("../worker/worker.js");
      return runWorker(config, logger);
    },
  },
  {
    name: "migrate",
    summary: "bring the database schema up to date",
    options: {},
    needsToken: false,
    migrates: true,
    run: async ({ config, logger, out }) => {
      const [{ openApp }, { migrate }] = await Promise.all([loadApp(), import("../db/migrate.js")]);
      const app = await openApp(config, logger, { migrate: false });
      try {
        const { applied } = await migrate(app.db.pool, logger);
        out(applied.length ? `applied ${applied.length} migration(s): ${applied.join(", ")}` : "schema is up to date");
        return 0;
      } finally {
        await app.close();
      }
    },
  },
  {
    name: "db",
    summary: "start the embedded PostgreSQL (when DATABASE_URL is unset), migrate, print its URL",
    options: { port: { type: "string", value: "<n>", description: "the embedded PostgreSQL's port; kept for this data directory (default: chosen once)" } },
    needsToken: false,
    migrates: true,
    run: async (ctx) => (await import("./db.js")).dbCommand(ctx),
  },
  {
    name: "grant-reader",
    summary: "create (if needed) a role that can read the mirror and nothing else (BI tools)",
    arguments: { usage: "<role>", min: 1, max: 1 },
    options: {},
    needsToken: false,
    migrates: true,
    run: async ({ positionals, config, logger, out }) => {
      const [{ openApp }, { grantReaderCommand, readerRoleArgument }] = await Promise.all([loadApp(), import("./grantReader.js")]);
      const role = readerRoleArgument(positionals);
      const app = await openApp(config, logger);
      try {
        out(await grantReaderCommand(app.db, role));
        return 0;
      } finally {
        await app.close();
      }
    },
  },
  {
    name: "api-double",
    summary: "run the bundled API double on its own, e.g. to try settings against it",
    options: DOUBLE_OPTIONS,
    needsToken: false,
    migrates: false,
    usesSettings: false,
    run: async ({ values }) => {
      // It serves until SIGTERM/SIGINT, which it handles itself (closing and exiting 0).
      const { serveFromOptions } = await import("../double/main.js");
      await serveFromOptions(values);
      await new Promise<never>(() => undefined);
      return 0;
    },
  },
];

export function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name);
}
