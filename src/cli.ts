// The command line: parses arguments against the command table (src/commands/table.ts), and calls the same
// functions the worker and the tests use. Help, validation and dispatch all come from the table.
import { existsSync, readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { negativeValues } from "./double/options.js";
import { CONFIG_VARIABLES, loadConfig, unknownSettings } from "./config.js";
import { loadAccounts, selectAccounts, type AccountConfig } from "./accounts.js";
import { ApiError, ConfigError, ContractError, StoppedError } from "./errors.js";
import { createLogger, scrub, type Logger } from "./log.js";
import { COMMANDS, findCommand, type Command, type OptionSpec } from "./commands/table.js";
import { didYouMean } from "./suggest.js";
import { DoubleUsageError } from "./double/options.js";

/** Exit statuses; the README's table lists the same, and a test checks it against real runs. */
export const EXIT = { ok: 0, failed: 1, usage: 2, killed: 130 } as const;

const HELP_OPTION: OptionSpec = { type: "boolean", short: "h", description: "show this command's help" };

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

export function generalHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length + (c.arguments ? c.arguments.usage.length + 1 : 0)));
  return [
    "contacts-sync: mirror BotPenguin inbox contacts into PostgreSQL",
    "",
    "usage: contacts-sync <command> [options]",
    "       contacts-sync <command> --help | help <command> | --version",
    "",
    "commands:",
    ...COMMANDS.map((c) => `  ${`${c.name}${c.arguments ? ` ${c.arguments.usage}` : ""}`.padEnd(width)}  ${c.summary}`),
    "",
    "Settings come from the environment and ./.env; see the README. Exit status: 0 done (also when stopped",
    "by SIGTERM/SIGINT), 1 a run failed, 2 bad usage or settings, 130 a second signal cut the stop short.",
  ].join("\n");
}

export function commandHelp(c: Command): string {
  const options = { ...c.options, help: HELP_OPTION };
  const flag = (name: string, o: OptionSpec) => `${o.short ? `-${o.short}, ` : "    "}--${name}${o.value ? ` ${o.value}` : ""}`;
  const width = Math.max(...Object.entries(options).map(([n, o]) => flag(n, o).length));
  const facts = c.usesSettings === false
    ? []
    : [
        "",
        `${c.needsToken ? "Needs INBOX_API_TOKEN (or INBOX_API_TOKEN_FILE)." : "Needs no API token."} ` +
          `${c.migrates ? "Brings the database schema up to date first." : "Does not change the schema."}`,
      ];
  return [
    `usage: contacts-sync ${c.name}${c.arguments ? ` ${c.arguments.usage}` : ""} [options]`,
    "",
    c.summary,
    ...(c.details ? ["", c.details] : []),
    "",
    "options:",
    ...Object.entries(options).map(([n, o]) => `  ${flag(n, o).padEnd(width)}  ${o.description}`),
    ...facts,
  ].join("\n");
}

function usageError(message: string, hint = "run `contacts-sync --help` for the commands"): number {
  process.stderr.write(`error: ${message}\n${hint}\n`);
  return EXIT.usage;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    process.stderr.write(`${generalHelp()}\n`);
    return EXIT.usage;
  }
  if (name === "--version" || name === "-V" || name === "version") {
    process.stdout.write(`contacts-sync ${version()}\n`);
    return EXIT.ok;
  }
  if (name === "--help" || name === "-h") {
    process.stdout.write(`${generalHelp()}\n`);
    return EXIT.ok;
  }
  if (name === "help") {
    if (rest.length === 0) {
      process.stdout.write(`${generalHelp()}\n`);
      return EXIT.ok;
    }
    const c = findCommand(rest[0]!);
    if (!c) return usageError(`unknown command "${rest[0]}"${didYouMean(rest[0]!, COMMANDS.map((x) => x.name))}`);
    process.stdout.write(`${commandHelp(c)}\n`);
    return EXIT.ok;
  }
  const command = findCommand(name);
  if (!command) {
    const hint = name.startsWith("-") ? "; options go after the command, e.g. `contacts-sync sync --json`" : didYouMean(name, COMMANDS.map((c) => c.name));
    return usageError(`unknown command "${name}"${hint}`);
  }

  const options = { ...command.options, help: HELP_OPTION };
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    // A negative duration after --clock-skew (api-double) is a value, not an option.
    const args = command.name === "api-double" ? negativeValues(rest) : rest;
    ({ values, positionals } = parseArgs({ args, strict: true, allowPositionals: true, options: parseOptions(options) }));
  } catch (error) {
    const message = (error as Error).message.split("\n")[0]!.replace(/\. To specify a positional argument.*$/, "");
    const unknown = /Unknown option '(-{1,2}[^']+)'/.exec(message)?.[1];
    const suggestion = unknown ? didYouMean(unknown.replace(/^-+/, ""), Object.keys(options), (n) => `--${n}`) : "";
    return usageError(`${command.name}: ${message}${suggestion}`, `run \`contacts-sync ${command.name} --help\` for its options`);
  }
  if (values.help) {
    process.stdout.write(`${commandHelp(command)}\n`);
    return EXIT.ok;
  }
  const args = command.arguments ?? { usage: "", min: 0, max: 0 };
  if (positionals.length < args.min || positionals.length > args.max) {
    const extra = positionals.length > args.max ? `unexpected argument "${positionals[args.max]}"` : `missing ${args.usage}`;
    return usageError(`${command.name}: ${extra}`, `usage: contacts-sync ${command.name}${args.usage ? ` ${args.usage}` : ""} [options]; see --help`);
  }

  let logger: Logger = createLogger("info");
  try {
    if (command.usesSettings === false) return await command.run({ values, positionals, config: undefined as never, logger, out });
    if (existsSync(".env")) process.loadEnvFile(".env");
    // --account is SYNC_ACCOUNT for this run: the same checks, the same single entry point.
    const env = typeof values.account === "string" ? { ...process.env, SYNC_ACCOUNT: values.account } : process.env;
    let config = loadConfig(env, { needToken: command.needsToken });
    // ACCOUNTS_FILE: checked whole before anything runs, whatever the command; used by those that act on accounts.
    let accounts: AccountConfig[] | undefined;
    if (config.accountsFile !== undefined) {
      const only = typeof values.account === "string" ? values.account : undefined;
      accounts = selectAccounts(loadAccounts(config, process.env, { needToken: command.needsToken }), only, config.accountsFile);
      if (command.accounts === "one") {
        if (accounts.length !== 1) throw new ConfigError([`${command.name} works on one account at a time: name it with --account (ACCOUNTS_FILE has ${accounts.length})`]);
        config = accounts[0]!;
      }
    }
    logger = createLogger(values.quiet ? "warn" : config.logLevel, undefined, config.logFormat);
    // A token_env of the accounts file is a variable of the user's, not a misspelt setting.
    for (const warning of unknownSettings(process.env, [...CONFIG_VARIABLES, ...(accounts ?? []).flatMap((a) => (a.tokenEnv ? [a.tokenEnv] : []))])) logger.warn(warning);
    return await command.run({ values, positionals, config, logger, out, ...(command.accounts === "all" && accounts ? { accounts } : {}) });
  } catch (error) {
    return report(error, logger);
  }
}

function out(text: string): void {
  process.stdout.write(`${text}\n`);
}

function parseOptions(options: Record<string, OptionSpec>) {
  return Object.fromEntries(Object.entries(options).map(([n, o]) => [n, o.short ? { type: o.type, short: o.short } : { type: o.type }]));
}

function report(error: unknown, logger: Logger): number {
  if (error instanceof ConfigError) {
    process.stderr.write(`${scrub(error.message)}\n`);
    return EXIT.usage;
  }
  if (error instanceof DoubleUsageError) {
    process.stderr.write(`${error.message}\n`);
    return EXIT.usage;
  }
  if (error instanceof StoppedError) {
    // Stopped on request (SIGTERM/SIGINT) at a page boundary: a clean end, not a failure.
    process.stderr.write(`${error.message}\n`);
    return EXIT.ok;
  }
  if (error instanceof ApiError || error instanceof ContractError) {
    process.stderr.write(`error: ${scrub(error.message)}\n`);
    return EXIT.failed;
  }
  const message = scrub(error instanceof Error ? error.message : String(error));
  logger.debug({ stack: scrub((error as Error)?.stack ?? "") }, "error details");
  const lost = lostDatabaseConnection(error, message);
  if (lost) {
    process.stderr.write(
      `error: The connection to PostgreSQL was lost during the run (${lost}). Every page committed before that is kept with its ` +
        "checkpoint; the next run resumes from there. Check that the database server is running and reachable (DATABASE_URL).\n",
    );
    return EXIT.failed;
  }
  process.stderr.write(`error: ${message}\n`);
  return EXIT.failed;
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
