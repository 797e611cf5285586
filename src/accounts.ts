// Many accounts in one deployment: ACCOUNTS_FILE, a YAML (so also JSON) file with a top-level `accounts:` list.
// Each entry becomes a full Config, the environment's with the account's own name, URL, token, filters, start
// and crons, so every command and the worker treat an account exactly as they treat the single one of the
// environment. Checked as strictly as the environment: every problem names the account and the key, all are
// reported at once, and nothing runs. The file holds no secret: a token comes from a file or a variable.
//
//   accounts:
//     - name: acme                      # the `account` column (1-64 letters, digits, . _ -)
//       url: https://api.example.com    # default INBOX_API_URL
//       token_file: /run/secrets/acme   # or token_env: ACME_TOKEN (exactly one)
//       filters: { tags: [vip] }        # as INBOX_FILTERS
//       start_at: 2024-01-01            # as SYNC_START_AT
//       sync_cron: "*/5 * * * *"        # as SYNC_CRON
//       reconcile_cron: "30 3 * * *"    # as RECONCILE_CRON
import { readFileSync } from "node:fs";
import { parseDocument } from "yaml";
import { checkSetting, type Config } from "./config.js";
import { ConfigError } from "./errors.js";
import { nearest } from "./suggest.js";

const YAML_ERRORS: Record<string, string> = {
  DUPLICATE_KEY: "a key appears twice in one mapping",
  BAD_INDENT: "the indentation does not line up",
  MISSING_CHAR: "a closing bracket, brace or quote is missing",
  UNEXPECTED_TOKEN: "unexpected text",
  MULTILINE_IMPLICIT_KEY: "a key spans several lines (a missing colon or quote?)",
  TAB_AS_INDENT: "a tab is used to indent (use spaces)",
};

export const ACCOUNT_KEYS = ["name", "url", "token_file", "token_env", "filters", "start_at", "sync_cron", "reconcile_cron"] as const;

/** What the accounts file holds beyond Config: where each token came from (for messages, never the token). */
export interface AccountConfig extends Config {
  tokenEnv: string | undefined;
}

export interface LoadOptions {
  /** Read and check every account's token (commands that call the API); status and migrate do not need them. */
  needToken: boolean;
}

/**
 * The accounts of ACCOUNTS_FILE as configs (in file order), or the environment's single account when it is unset.
 * Throws a ConfigError listing every problem; never returns a partial list.
 */
export function loadAccounts(base: Config, env: NodeJS.ProcessEnv, options: LoadOptions): AccountConfig[] {
  if (base.accountsFile === undefined) return [{ ...base, tokenEnv: undefined }];
  const file = base.accountsFile;
  const where = `ACCOUNTS_FILE "${file}"`;
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new ConfigError([`ACCOUNTS_FILE: cannot read "${file}" (${(error as NodeJS.ErrnoException).code ?? "error"})`]);
  }
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    // The parser's position and kind of error, not its excerpt of the file: short, and shows no content.
    throw new ConfigError(doc.errors.slice(0, 5).map((e) =>
      `${where}: not valid YAML or JSON at line ${e.linePos?.[0]?.line ?? "?"}, column ${e.linePos?.[0]?.col ?? "?"}: ${YAML_ERRORS[e.code] ?? e.code.toLowerCase().replaceAll("_", " ")}`));
  }
  const root: unknown = doc.toJS();
  const problems: string[] = [];
  if (typeof root !== "object" || root === null || Array.isArray(root)) throw new ConfigError([`${where}: expected a mapping with a top-level "accounts:" list`]);
  const rootKeys = Object.keys(root);
  for (const key of rootKeys.filter((k) => k !== "accounts")) problems.push(`${where}: unknown top-level key "${key}"; the file has one key, "accounts"`);
  const list = (root as { accounts?: unknown }).accounts;
  if (!Array.isArray(list)) throw new ConfigError([...problems, `${where}: "accounts" must be a list of accounts (each with name and token_file or token_env)`]);
  if (list.length === 0) throw new ConfigError([...problems, `${where}: "accounts" is empty: name at least one account`]);

  const seen = new Map<string, number>();
  const accounts: AccountConfig[] = [];
  list.forEach((entry: unknown, index) => {
    const rawName = typeof entry === "object" && entry !== null ? (entry as Record<string, unknown>).name : undefined;
    const label = typeof rawName === "string" && rawName !== "" ? `account "${rawName}" (accounts[${index}])` : `accounts[${index}]`;
    const problem = (key: string, message: string) => problems.push(`${where}: ${label}: ${key}: ${message}`);
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
      problems.push(`${where}: ${label}: expected a mapping with name and token_file or token_env`);
      return;
    }
    const e = entry as Record<string, unknown>;
    const before = problems.length;
    for (const key of Object.keys(e).filter((k) => !(ACCOUNT_KEYS as readonly string[]).includes(k))) {
      if (/^(token|api_?key|secret|password)$/i.test(key)) problem(key, "a token is never kept in this file: name a file (token_file) or a variable (token_env) that holds it");
      else {
        const match = nearest(key, ACCOUNT_KEYS);
        problem(key, `unknown key${match ? `; did you mean ${match}?` : ""} (known: ${ACCOUNT_KEYS.join(", ")})`);
      }
    }
    const text = (key: string): string | undefined => {
      const value = e[key];
      if (value === undefined || value === null) return undefined;
      if (key === "start_at" && value instanceof Date) return value.toISOString();
      if (typeof value !== "string" || value.trim() === "") {
        problem(key, "expected a non-empty string");
        return undefined;
      }
      return value;
    };
    const checked = <T>(key: string, setting: Parameters<typeof checkSetting>[0], value: string | undefined, fallback: T): T => {
      if (value === undefined) return fallback;
      const result = checkSetting(setting, value);
      if (!result.ok) {
        problem(key, result.message);
        return fallback;
      }
      return result.value as T;
    };

    const name = text("name");
    if (name === undefined && e.name === undefined) problem("name", "required: the account's name (the `account` column)");
    const account = checked("name", "SYNC_ACCOUNT", name, "");
    if (account !== "") {
      const first = seen.get(account);
      if (first !== undefined) problem("name", `"${account}" is also the name of accounts[${first}]: each account once`);
      else seen.set(account, index);
    }
    const apiUrl = checked("url", "INBOX_API_URL", text("url"), base.apiUrl);
    const startAt = checked("start_at", "SYNC_START_AT", text("start_at"), base.startAt);
    const syncCron = checked("sync_cron", "SYNC_CRON", text("sync_cron"), base.syncCron);
    const reconcileCron = checked("reconcile_cron", "RECONCILE_CRON", text("reconcile_cron"), base.reconcileCron);
    let filters = base.filters;
    if (e.filters !== undefined && e.filters !== null) {
      filters = checked("filters", "INBOX_FILTERS", typeof e.filters === "string" ? e.filters : JSON.stringify(e.filters), base.filters);
    }
    const tokenFile = text("token_file");
    const tokenEnv = text("token_env");
    let token: string | undefined;
    if (tokenFile !== undefined && tokenEnv !== undefined) problem("token_file", "token_file and token_env are both set: keep exactly one");
    else if (tokenFile === undefined && tokenEnv === undefined) {
      if (e.token_file === undefined && e.token_env === undefined) problem("token_file", "required: token_file (a file holding the account's API key) or token_env (a variable holding it)");
    } else if (options.needToken) {
      const read = readAccountToken(tokenFile, tokenEnv, env);
      if ("problem" in read) problem(tokenFile !== undefined ? "token_file" : "token_env", read.problem);
      else token = read.token;
    }
    if (problems.length > before) return;
    accounts.push({ ...base, account, apiUrl, startAt, syncCron, reconcileCron, filters, token, tokenFile, tokenEnv });
  });
  if (problems.length > 0) throw new ConfigError(problems);
  return accounts;
}

/** The accounts that `--account NAME` selects (all without it); an unknown name is a usage error with a suggestion. */
export function selectAccounts<T extends { account: string }>(accounts: T[], only: string | undefined, file: string | undefined): T[] {
  if (only === undefined || file === undefined) return accounts;
  const found = accounts.filter((a) => a.account === only);
  if (found.length === 0) {
    const names = accounts.map((a) => a.account);
    const match = nearest(only, names);
    throw new ConfigError([`--account: no account "${only}" in ACCOUNTS_FILE "${file}"${match ? `; did you mean ${match}?` : ""}`]);
  }
  return found;
}

/** Reads an account's token, with the checks of INBOX_API_TOKEN; the problem never contains the token. */
export function readAccountToken(file: string | undefined, variable: string | undefined, env: NodeJS.ProcessEnv): { token: string } | { problem: string } {
  let token: string | undefined;
  if (file !== undefined) {
    try {
      token = readFileSync(file, "utf8");
    } catch (error) {
      return { problem: `cannot read "${file}" (${(error as NodeJS.ErrnoException).code ?? "error"})` };
    }
  } else if (variable !== undefined) {
    token = env[variable];
    if (token === undefined) return { problem: `the variable ${variable} is not set` };
  }
  token = token?.trim();
  const source = file !== undefined ? `the file "${file}"` : `the variable ${variable}`;
  if (!token) return { problem: `${source} is empty: it must hold the account's API key` };
  if (/\s/.test(token) || /^bearer\b/i.test(token)) return { problem: `${source} must hold the bare token, without spaces or a 'Bearer ' prefix` };
  if (!/^[\x21-\x7e]+$/.test(token)) return { problem: `${source} must hold the bare token, printable ASCII only (check for a pasted invisible or typographic character)` };
  return { token };
}
