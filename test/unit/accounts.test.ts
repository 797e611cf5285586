// ACCOUNTS_FILE is checked as strictly as the environment: every problem names the account and the key, all
// are reported at once, no token appears in a message; and without the file, the environment's one account.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadAccounts, selectAccounts } from "../../src/accounts.js";
import { loadConfig } from "../../src/config.js";
import { ConfigError } from "../../src/errors.js";

const dir = mkdtempSync(join(tmpdir(), "contacts-sync-accounts-unit-"));
const SECRET = "secret-token-7d8e9f0a1b2c";
const tokenFile = join(dir, "acme.token");
writeFileSync(tokenFile, `${SECRET}\n`);
writeFileSync(join(dir, "bearer.token"), `Bearer ${SECRET}`);

function write(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

function load(text: string, env: Record<string, string> = {}, needToken = true) {
  const file = write(`accounts-${Math.random().toString(36).slice(2)}.yaml`, text);
  const base = loadConfig({ ACCOUNTS_FILE: file, ...env }, { needToken });
  return loadAccounts(base, { ...env }, { needToken });
}

function problems(text: string, env: Record<string, string> = {}): string {
  try {
    load(text, env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toMatch(/^Configuration is invalid; nothing was requested or written\./);
    expect(message).not.toContain(SECRET);
    return message;
  }
  throw new Error("expected a ConfigError");
}

describe("ACCOUNTS_FILE", () => {
  it("gives each account the environment's settings, overridden by its own", () => {
    const accounts = load(
      [
        "accounts:",
        `  - name: acme`,
        `    token_file: ${tokenFile}`,
        `  - name: globex`,
        `    url: https://api-v7.express-chat.com`,
        `    token_env: GLOBEX_TOKEN`,
        `    filters: { tags: [vip] }`,
        `    start_at: 2024-01-01`,
        `    sync_cron: "*/2 * * * *"`,
        `    reconcile_cron: "0 4 * * *"`,
      ].join("\n"),
      { GLOBEX_TOKEN: "globex-token-1234", SYNC_CRON: "*/7 * * * *" },
    );
    expect(accounts.map((a) => a.account)).toEqual(["acme", "globex"]);
    expect(accounts[0]).toMatchObject({ token: SECRET, tokenFile, syncCron: "*/7 * * * *", filters: {} });
    expect(accounts[0]!.apiUrl.origin).toBe("https://api.v7.botpenguin.com");
    expect(accounts[1]).toMatchObject({ token: "globex-token-1234", tokenEnv: "GLOBEX_TOKEN", syncCron: "*/2 * * * *", reconcileCron: "0 4 * * *", filters: { tags: ["vip"] } });
    expect(accounts[1]!.apiUrl.origin).toBe("https://api-v7.express-chat.com");
    expect(accounts[1]!.startAt.toISOString()).toBe("2024-01-01T00:00:00.000Z");
    expect(selectAccounts(accounts, "globex", "f").map((a) => a.account)).toEqual(["globex"]);
  });

  it("JSON works too", () => {
    expect(load(JSON.stringify({ accounts: [{ name: "acme", token_file: tokenFile }] })).map((a) => a.account)).toEqual(["acme"]);
  });

  it("without ACCOUNTS_FILE: the environment's one account, unchanged", () => {
    const base = loadConfig({ INBOX_API_TOKEN: "tok_abcdef123456", SYNC_ACCOUNT: "solo" });
    const accounts = loadAccounts(base, {}, { needToken: true });
    expect(accounts).toHaveLength(1);
    expect(accounts[0]).toMatchObject({ account: "solo", token: "tok_abcdef123456" });
  });

  it("status and migrate need no token: the files are not read", () => {
    expect(load(`accounts:\n  - name: acme\n    token_file: ${join(dir, "missing")}\n`, {}, false)[0]!.token).toBeUndefined();
  });

  it.each([
    ["a duplicate name", `accounts:\n  - name: acme\n    token_file: ${tokenFile}\n  - name: acme\n    token_file: ${tokenFile}\n`,
      /account "acme" \(accounts\[1\]\): name: "acme" is also the name of accounts\[0\]: each account once/],
    ["a missing token file", `accounts:\n  - name: acme\n    token_file: ${join(dir, "nope.token")}\n`,
      /account "acme" \(accounts\[0\]\): token_file: cannot read ".*nope\.token" \(ENOENT\)/],
    ["an unknown key", `accounts:\n  - name: acme\n    tokenfile: ${tokenFile}\n`,
      /account "acme" \(accounts\[0\]\): tokenfile: unknown key; did you mean token_file\?/],
    ["invalid YAML", "accounts:\n  - name: acme\n    token_file: [unclosed\n",
      /ACCOUNTS_FILE ".*": not valid YAML or JSON at line \d+, column \d+/],
    ["a token in the file", `accounts:\n  - name: acme\n    token: ${SECRET}\n`,
      /account "acme" \(accounts\[0\]\): token: a token is never kept in this file: name a file \(token_file\) or a variable \(token_env\)/],
    ["no token at all", "accounts:\n  - name: acme\n",
      /account "acme" \(accounts\[0\]\): token_file: required: token_file .* or token_env/],
    ["both token_file and token_env", `accounts:\n  - name: acme\n    token_file: ${tokenFile}\n    token_env: X\n`,
      /account "acme" \(accounts\[0\]\): token_file: token_file and token_env are both set: keep exactly one/],
    ["an unset token variable", "accounts:\n  - name: acme\n    token_env: ACME_TOKEN\n",
      /account "acme" \(accounts\[0\]\): token_env: the variable ACME_TOKEN is not set/],
    ["a 'Bearer ' token file", `accounts:\n  - name: acme\n    token_file: ${join(dir, "bearer.token")}\n`,
      /account "acme" \(accounts\[0\]\): token_file: the file ".*bearer\.token" must hold the bare token/],
    ["a plain http url", `accounts:\n  - name: acme\n    url: http://api.example.com\n    token_file: ${tokenFile}\n`,
      /account "acme" \(accounts\[0\]\): url: must use https:\/\//],
    ["an unknown filter", `accounts:\n  - name: acme\n    token_file: ${tokenFile}\n    filters: { tag: [vip] }\n`,
      /account "acme" \(accounts\[0\]\): filters: unknown or sync-owned filter\(s\) tag/],
    ["a bad cron", `accounts:\n  - name: acme\n    token_file: ${tokenFile}\n    sync_cron: every minute\n`,
      /account "acme" \(accounts\[0\]\): sync_cron: expected a cron expression/],
    ["a bad start", `accounts:\n  - name: acme\n    token_file: ${tokenFile}\n    start_at: yesterday\n`,
      /account "acme" \(accounts\[0\]\): start_at: expected an ISO-8601 date/],
    ["a bad name", `accounts:\n  - name: two words\n    token_file: ${tokenFile}\n`,
      /account "two words" \(accounts\[0\]\): name: expected 1-64 letters/],
    ["no name", `accounts:\n  - token_file: ${tokenFile}\n`, /accounts\[0\]: name: required/],
    ["no accounts list", "acounts: []\n", /unknown top-level key "acounts"[\s\S]*"accounts" must be a list/],
    ["an empty list", "accounts: []\n", /"accounts" is empty/],
    ["a duplicate key", `accounts:\n  - name: acme\n    name: other\n    token_file: ${tokenFile}\n`, /not valid YAML or JSON at line 3/],
  ])("%s: a clear error naming the account and key", (_, text, expected) => {
    expect(problems(text)).toMatch(expected);
  });

  it("reports every problem of every account at once", () => {
    const message = problems(`accounts:\n  - name: acme\n    tokn_file: x\n  - name: globex\n    token_env: NOPE\n    url: ftp://x\n`);
    for (const part of [/account "acme".*tokn_file: unknown key/, /account "globex".*token_env: the variable NOPE is not set/, /account "globex".*url:/]) expect(message).toMatch(part);
  });
});
