// Settings come from the environment (and a `.env` file, read by the CLI). Every setting is checked here,
// before any request or write, and every problem is reported at once, naming the variable.
import { parseUserInstant } from "./time.js";
import { readFileSync } from "node:fs";
import { z } from "zod";
import cron from "node-cron";
import { ConfigError } from "./errors.js";
import { parseDuration } from "./durations.js";
import { nearest } from "./suggest.js";
import { DEFAULT_SCHEMA, schemaOfUrl, schemaProblem } from "./db/schema.js";

export const DEFAULT_API_URL = "https://api.v7.botpenguin.com";

/** Body fields a user may set through INBOX_FILTERS; the sync owns the others (page, windows, isContact). */
export const USER_FILTERS = [
  "searchText", "tags", "status", "isOnline", "_botWebsite", "_botWhatsapp", "_botTelegram", "_botFacebook",
  "_agentAssigned", "segments", "userInteracted", "lastMessageBy", "isLiveChatActive", "hasOrdered",
] as const;

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
const LOG_FORMATS = ["auto", "json", "pretty"] as const;

export interface Config {
  apiUrl: URL;
  /** Undefined only for commands that never call the API (migrate, status). */
  token: string | undefined;
  /** Where the token came from, if a file: the worker reads it again before each run (rotation). */
  tokenFile: string | undefined;
  databaseUrl: string | undefined;
  /** DATABASE_SCHEMA (or DATABASE_URL's ?schema=): the schema that holds the mirror; default contacts_sync. */
  databaseSchema: string;
  dataDir: string;
  account: string;
  startAt: Date;
  lookbackMs: number;
  lagMs: number;
  /** A stored measurement of the API (check) older than this is measured again before a pass. */
  checkMaxAgeMs: number;
  filters: Record<string, unknown>;
  timeoutMs: number;
  retries: number;
  concurrency: number;
  logLevel: (typeof LOG_LEVELS)[number];
  logFormat: (typeof LOG_FORMATS)[number];
  syncCron: string;
  reconcileCron: string;
  timezone: string;
  // Worker mode (src/worker, src/http; docs/operations.md).
  /** Health and metrics listener; 0 = none. */
  httpPort: number;
  /** /readyz is unready when the last complete incremental pass is older than this. */
  readyMaxAgeMs: number;
  /** After SIGTERM/SIGINT, how long the worker may take to stop before it exits anyway. */
  shutdownGraceMs: number;
  /** How long contact_changes keeps a change (pruned after each reconcile pass); 0 = forever. docs/sql.md. */
  historyRetentionMs: number;
  /** Without a terminal, how often a long pass logs its progress (PROGRESS_INTERVAL). */
  progressIntervalMs: number;
  /** DEFAULT_PHONE_REGION: ISO region for phones sent without prefix or country; undefined when unset. */
  defaultPhoneRegion: string | undefined;
  /** ACCOUNTS_FILE: several accounts in one deployment (src/accounts.ts); undefined: the single account above. */
  accountsFile: string | undefined;
  /** With ACCOUNTS_FILE: passes of different accounts run at once, at most this many (SYNC_ACCOUNTS_CONCURRENCY). */
  accountsConcurrency: number;
  /** With ACCOUNTS_FILE: requests in flight to one API host, shared by every account on it (INBOX_HOST_CONCURRENCY). */
  hostConcurrency: number;
}

// ICU's region names: undefined for a code that names no region (as libphonenumber-js's list, for phones).
const REGION_NAMES = new Intl.DisplayNames(["en"], { type: "region", fallback: "none" });

const duration = (fallback: string, max: number) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const ms = parseDuration(text);
      if (ms === undefined || ms > max) {
        ctx.addIssue({ code: "custom", message: `expected a duration such as 30s, 10m or 2h (at most ${max / 3_600_000}h), got "${text}"` });
        return z.NEVER;
      }
      return ms;
    });

const isoDate = z.string().transform((text, ctx) => {
  // Full ISO-8601 date or date-time; a bare date means midnight UTC.
  const date = parseUserInstant(text);
  if (date === null) {
    ctx.addIssue({ code: "custom", message: `expected an ISO-8601 date such as 2024-01-01 or 2024-01-01T00:00:00Z, got "${text}"` });
    return z.NEVER;
  }
  return date;
});

const schema = z.object({
  INBOX_API_URL: z
    .string()
    .default(DEFAULT_API_URL)
    .transform((text, ctx) => {
      let url: URL;
      try {
        url = new URL(text);
      } catch {
        ctx.addIssue({ code: "custom", message: `expected the API's base URL such as ${DEFAULT_API_URL}, got "${text}"` });
        return z.NEVER;
      }
      if (url.username || url.password || url.search || url.hash) {
        ctx.addIssue({ code: "custom", message: "expected a base URL without credentials, query or fragment (the token goes in INBOX_API_TOKEN)" });
        return z.NEVER;
      }
      // Only loopback addresses, as the URL parser normalises them: a name such as 127.0.0.1.nip.io is a public host.
      const loopback = ["localhost", "[::1]"].includes(url.hostname) || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(url.hostname);
      if (url.protocol !== "https:" && !(url.protocol === "http:" && loopback)) {
        ctx.addIssue({ code: "custom", message: `must use https:// (plain http:// is allowed only on loopback), got "${url.protocol}//${url.host}"` });
        return z.NEVER;
      }
      return url;
    }),
  INBOX_API_TOKEN: z.string().optional(),
  INBOX_API_TOKEN_FILE: z.string().optional(),
  DATABASE_URL: z
    .string()
    .optional()
    .refine((v) => v === undefined || v === "" || /^postgres(ql)?:\/\/./.test(v), {
      message: "expected a PostgreSQL URL such as postgresql://user:password@host:5432/db, or unset for the embedded database",
    }),
  // The mirror's own schema (src/db/schema.ts); DATABASE_URL's ?schema= may name it instead (loadConfig).
  DATABASE_SCHEMA: z.string().optional(),
  CONTACTS_SYNC_DATA_DIR: z.string().default(".data"),
  SYNC_ACCOUNT: z
    .string()
    .default("default")
    .refine((v) => /^[A-Za-z0-9_.-]{1,64}$/.test(v), { message: "expected 1-64 letters, digits, '.', '_' or '-'" }),
  SYNC_START_AT: isoDate.default(new Date("2000-01-01T00:00:00.000Z")),
  SYNC_LOOKBACK: duration("10m", 30 * 86_400_000),
  SYNC_LAG: duration("1m", 86_400_000),
  CHECK_MAX_AGE: duration("7d", 365 * 86_400_000).refine((ms) => ms >= 60_000, { message: "expected at least 1m" }),
  INBOX_FILTERS: z
    .string()
    .default("{}")
    .transform((text, ctx) => {
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        ctx.addIssue({ code: "custom", message: `expected a JSON object such as {"tags":["vip"]}, got text that is not JSON` });
        return z.NEVER;
      }
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        ctx.addIssue({ code: "custom", message: `expected a JSON object such as {"tags":["vip"]}` });
        return z.NEVER;
      }
      const unknown = Object.keys(value).filter((k) => !(USER_FILTERS as readonly string[]).includes(k));
      if (unknown.length > 0) {
        ctx.addIssue({
          code: "custom",
          message: `unknown or sync-owned filter(s) ${unknown.join(", ")}; allowed: ${USER_FILTERS.join(", ")}`,
        });
        return z.NEVER;
      }
      return value as Record<string, unknown>;
    }),
  INBOX_TIMEOUT: duration("30s", 600_000).refine((ms) => ms >= 1000, { message: "expected at least 1s" }),
  SYNC_CONCURRENCY: z
    .string()
    .default("4")
    .refine((v) => /^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= 32, { message: "expected a whole number from 1 to 32" })
    .transform(Number),
  INBOX_RETRIES: z
    .string()
    .default("6")
    .refine((v) => /^\d+$/.test(v) && Number(v) <= 20, { message: "expected a whole number from 0 to 20" })
    .transform(Number),
  SYNC_CRON: z.string().default("*/5 * * * *").refine((v) => cron.validate(v), {
    message: "expected a cron expression such as */5 * * * * (every 5 minutes)",
  }),
  RECONCILE_CRON: z.string().default("30 3 * * *").refine((v) => cron.validate(v), {
    message: "expected a cron expression such as 30 3 * * * (03:30 every day)",
  }),
  TZ: z.string().default("UTC").refine((v) => {
    try {
      new Intl.DateTimeFormat("en", { timeZone: v });
      return true;
    } catch {
      return false;
    }
  }, { message: "expected an IANA time zone such as UTC or Europe/Berlin" }),
  LOG_LEVEL: z.enum(LOG_LEVELS, { message: `expected one of ${LOG_LEVELS.join(", ")}` }).default("info"),
  LOG_FORMAT: z.enum(LOG_FORMATS, { message: `expected one of ${LOG_FORMATS.join(", ")} (auto: pretty on a terminal, JSON otherwise)` }).default("auto"),
  // Worker mode: health/metrics listener, readiness and shutdown (docs/operations.md).
  HTTP_PORT: z
    .string()
    .default("9464")
    .refine((v) => /^\d+$/.test(v) && Number(v) <= 65535, { message: "expected a port number from 1 to 65535, or 0 to run without the health and metrics listener" })
    .transform(Number),
  READY_MAX_AGE: duration("30m", 30 * 86_400_000).refine((ms) => ms >= 1000, { message: "expected at least 1s" }),
  SHUTDOWN_GRACE: duration("25s", 600_000).refine((ms) => ms >= 1000, { message: "expected at least 1s" }),
  // Contact history (docs/sql.md): how far back contact_changes and contacts_as_of() reach; 0 keeps all.
  HISTORY_RETENTION: duration("365d", 3650 * 86_400_000),
  // Progress of a long pass when stderr is not a terminal: one info line this often.
  PROGRESS_INTERVAL: duration("30s", 86_400_000).refine((ms) => ms >= 1000, { message: "expected at least 1s" }),
  // Phones without prefix or country are read in this region (src/records/phone.ts); unset: not read.
  DEFAULT_PHONE_REGION: z
    .string()
    .optional()
    .transform((v) => v?.trim().toUpperCase())
    .refine((v) => v === undefined || (/^[A-Z]{2}$/.test(v) && REGION_NAMES.of(v) !== undefined), { message: "expected a two-letter ISO 3166 region code such as IN, KE or US" }),
  // Many accounts in one deployment (src/accounts.ts, docs/operations.md): a YAML (or JSON) file of accounts.
  ACCOUNTS_FILE: z.string().optional(),
  SYNC_ACCOUNTS_CONCURRENCY: z
    .string()
    .default("4")
    .refine((v) => /^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= 64, { message: "expected a whole number from 1 to 64" })
    .transform(Number),
  INBOX_HOST_CONCURRENCY: z
    .string()
    .default("8")
    .refine((v) => /^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= 256, { message: "expected a whole number from 1 to 256" })
    .transform(Number),
});

/** Names of every variable the config reader accepts (docs and tests check this list against the README). */
export const CONFIG_VARIABLES = Object.keys(schema.shape);

export function loadConfig(env: NodeJS.ProcessEnv = process.env, options: { needToken: boolean } = { needToken: true }): Config {
  // Empty strings mean "unset", as in most .env files.
  const cleaned = Object.fromEntries(
    CONFIG_VARIABLES.map((name) => [name, env[name] === "" ? undefined : env[name]]),
  );
  const parsed = schema.safeParse(cleaned);
  const problems: string[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`${String(issue.path[0])}: ${issue.message}`);
  }
  // With ACCOUNTS_FILE, each account names its own token (src/accounts.ts): the environment's is not needed.
  const token = readToken(cleaned.INBOX_API_TOKEN, cleaned.INBOX_API_TOKEN_FILE, options.needToken && cleaned.ACCOUNTS_FILE === undefined, problems);
  const databaseSchema = readSchema(cleaned.DATABASE_SCHEMA, cleaned.DATABASE_URL, problems);
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems);
  const v = parsed.data;
  return {
    apiUrl: v.INBOX_API_URL,
    token,
    tokenFile: cleaned.INBOX_API_TOKEN_FILE,
    databaseUrl: v.DATABASE_URL || undefined,
    databaseSchema,
    dataDir: v.CONTACTS_SYNC_DATA_DIR,
    account: v.SYNC_ACCOUNT,
    startAt: v.SYNC_START_AT,
    lookbackMs: v.SYNC_LOOKBACK,
    lagMs: v.SYNC_LAG,
    checkMaxAgeMs: v.CHECK_MAX_AGE,
    filters: v.INBOX_FILTERS,
    timeoutMs: v.INBOX_TIMEOUT,
    retries: v.INBOX_RETRIES,
    concurrency: v.SYNC_CONCURRENCY,
    logLevel: v.LOG_LEVEL,
    logFormat: v.LOG_FORMAT,
    syncCron: v.SYNC_CRON,
    reconcileCron: v.RECONCILE_CRON,
    timezone: v.TZ,
    httpPort: v.HTTP_PORT,
    readyMaxAgeMs: v.READY_MAX_AGE,
    shutdownGraceMs: v.SHUTDOWN_GRACE,
    historyRetentionMs: v.HISTORY_RETENTION,
    progressIntervalMs: v.PROGRESS_INTERVAL,
    defaultPhoneRegion: v.DEFAULT_PHONE_REGION,
    accountsFile: v.ACCOUNTS_FILE,
    accountsConcurrency: v.SYNC_ACCOUNTS_CONCURRENCY,
    hostConcurrency: v.INBOX_HOST_CONCURRENCY,
  };
}

/** One setting's own check, for the accounts file (src/accounts.ts): an account's url, filters, start_at and crons are checked as these are. */
export function checkSetting(name: "INBOX_API_URL" | "SYNC_ACCOUNT" | "SYNC_START_AT" | "INBOX_FILTERS" | "SYNC_CRON" | "RECONCILE_CRON", text: string): { ok: true; value: unknown } | { ok: false; message: string } {
  const parsed = schema.shape[name].safeParse(text);
  return parsed.success ? { ok: true, value: parsed.data } : { ok: false, message: parsed.error.issues.map((i) => i.message).join("; ") };
}

/** The prefixes of this program's own settings: a name with one of them that it does not know is a slip. */
const OWN_PREFIXES = ["INBOX_", "SYNC_", "CONTACTS_SYNC_"];

/**
 * One warning per variable that looks like one of ours but is not (INBOX_API_TOKN, SYNC_LOOKBAK), with the
 * nearest known name. Derived from the schema, so a setting added there is known here at once.
 */
export function unknownSettings(env: NodeJS.ProcessEnv, known: readonly string[] = CONFIG_VARIABLES): string[] {
  return Object.keys(env)
    .filter((name) => OWN_PREFIXES.some((p) => name.startsWith(p)) && !known.includes(name))
    .sort()
    .map((name) => {
      const match = nearest(name, known);
      return `${name} is not a setting of contacts-sync and is ignored${match ? `; did you mean ${match}?` : ""}`;
    });
}

/**
 * Reads INBOX_API_TOKEN_FILE again, with the same checks as at start. The worker does this before each run,
 * so a rotated secret is picked up without a restart.
 */
export function readTokenFile(file: string): string {
  const problems: string[] = [];
  const token = readToken(undefined, file, true, problems);
  if (problems.length > 0 || token === undefined) throw new ConfigError(problems);
  return token;
}

/**
 * DATABASE_SCHEMA, or Prisma's ?schema= in DATABASE_URL; both may be given only when they agree: two
 * different answers to "where is the mirror" are a mistake to report, not a choice to make silently.
 */
function readSchema(setting: string | undefined, url: string | undefined, problems: string[]): string {
  const fromUrl = url ? schemaOfUrl(url) : undefined;
  if (setting !== undefined && fromUrl !== undefined && setting !== fromUrl) {
    problems.push(`DATABASE_SCHEMA is "${setting}" but DATABASE_URL's ?schema= is "${fromUrl}": set one of them, or both the same`);
    return DEFAULT_SCHEMA;
  }
  const schema = setting ?? fromUrl ?? DEFAULT_SCHEMA;
  const problem = schemaProblem(schema);
  if (problem) problems.push(`${setting !== undefined ? "DATABASE_SCHEMA" : "DATABASE_URL (?schema=)"}: ${problem}`);
  return schema;
}

function readToken(value: string | undefined, file: string | undefined, needed: boolean, problems: string[]): string | undefined {
  if (value !== undefined && file !== undefined) {
    problems.push("INBOX_API_TOKEN and INBOX_API_TOKEN_FILE are both set: keep exactly one");
    return undefined;
  }
  let token = value;
  if (file !== undefined) {
    try {
      token = readFileSync(file, "utf8").trim();
    } catch (error) {
      problems.push(`INBOX_API_TOKEN_FILE: cannot read "${file}" (${(error as NodeJS.ErrnoException).code ?? "error"})`);
      return undefined;
    }
  }
  token = token?.trim();
  if (token === undefined || token === "") {
    if (needed) problems.push("INBOX_API_TOKEN: required (or INBOX_API_TOKEN_FILE): the API key from your BotPenguin dashboard");
    return undefined;
  }
  if (/\s/.test(token) || /^bearer\b/i.test(token)) {
    problems.push("INBOX_API_TOKEN: expected the bare token, without spaces or a 'Bearer ' prefix");
    return undefined;
  }
  // An HTTP header cannot carry it otherwise (a pasted zero-width space or curly quote would be refused by the
  // HTTP client at every attempt, and look like an API outage).
  if (!/^[\x21-\x7e]+$/.test(token)) {
    problems.push("INBOX_API_TOKEN: expected the bare token, printable ASCII only (check for a pasted invisible or typographic character)");
    return undefined;
  }
  return token;
}
