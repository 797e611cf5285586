// Many accounts in one deployment (ACCOUNTS_FILE), through ./bin/contacts-sync as a user runs it: three
// accounts on three API doubles, each with its own token, data and faults; every account mirrored exactly
// into its own `account`, a refused token failing that account loudly while the others succeed, status with
// a verdict per account, and several accounts on one host kept within the host's budget of requests in flight.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startApiDouble, type ApiDouble } from "../../src/double/server.js";
import { createDatabase } from "../helpers/db.js";
import { cli } from "../helpers/cli.js";
import { mirror, source } from "../helpers/sync.js";

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

const TOKENS = { alpha: "alpha-token-8c1d2e3f4a5b", beta: "beta-token-1a2b3c4d5e6f", gamma: "gamma-token-9f8e7d6c5b4a" };
const seen = (c: Record<string, unknown>) => c.lastSeenAt != null;

function expectSameContacts(actual: Map<string, unknown>, expected: Map<string, unknown>, account: string) {
  const missing = [...expected.keys()].filter((id) => !actual.has(id));
  const extra = [...actual.keys()].filter((id) => !expected.has(id));
  expect({ account, missing: missing.length, extra: extra.length }).toEqual({ account, missing: 0, extra: 0 });
  for (const [id, contact] of expected) expect(actual.get(id), `${account} ${id}`).toEqual(contact);
}

describe("ACCOUNTS_FILE: three accounts, three doubles", () => {
  it("mirrors each account exactly; a refused token fails that account loudly and the others still succeed", async () => {
    const doubles: Record<string, ApiDouble> = {
      alpha: await startApiDouble({ token: TOKENS.alpha, contacts: 400, seed: 11, pageSize: 50 }),
      // Faults a real proxy produces: the retries absorb them.
      beta: await startApiDouble({ token: TOKENS.beta, contacts: 250, seed: 22, pageSize: 40, faults: { rate: 0.2, kinds: ["429", "502-html", "reset"], retryAfterSeconds: 0 } }),
      gamma: await startApiDouble({ token: TOKENS.gamma, contacts: 150, seed: 33, pageSize: 30, latencyMs: 20 }),
    };
    const db = await createDatabase({ migrate: false });
    cleanup.push(async () => { for (const d of Object.values(doubles)) await d.close(); }, () => db.drop());
    const dir = mkdtempSync(join(tmpdir(), "contacts-sync-accounts-"));
    writeFileSync(join(dir, "alpha.token"), `${TOKENS.alpha}\n`);
    writeFileSync(join(dir, "beta.token"), `${TOKENS.beta}\n`);
    const file = join(dir, "accounts.yaml");
    writeFileSync(file, [
      "accounts:",
      `  - name: alpha`,
      `    url: ${doubles.alpha!.url}`,
      `    token_file: ${join(dir, "alpha.token")}`,
      `  - name: beta`,
      `    url: ${doubles.beta!.url}`,
      `    token_file: ${join(dir, "beta.token")}`,
      `  - name: gamma`,
      `    url: ${doubles.gamma!.url}`,
      `    token_env: GAMMA_TOKEN`,
      "",
    ].join("\n"));
    const env = { ACCOUNTS_FILE: file, GAMMA_TOKEN: TOKENS.gamma, DATABASE_URL: db.url, SYNC_LAG: "0", INBOX_RETRIES: "10" };

    const run = await cli(["sync", "--json"], env);
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.accounts.map((a: { account: string; status: string }) => [a.account, a.status])).toEqual([["alpha", "succeeded"], ["beta", "succeeded"], ["gamma", "succeeded"]]);
    expect(report.totals).toMatchObject({ accounts: 3, succeeded: 3, failed: 0 });
    expect(report.totals.received).toBe(report.accounts.reduce((n: number, a: { received: number }) => n + a.received, 0));
    expect(doubles.beta!.stats.faults).toBeGreaterThan(0);
    for (const [name, double] of Object.entries(doubles)) expectSameContacts(await mirror(db, name), source(double, seen), name);
    for (const token of Object.values(TOKENS)) expect(run.stdout + run.stderr).not.toContain(token);

    // beta's key is revoked: beta fails, loudly and by name; alpha and gamma go on and stay exact.
    const wrong = "revoked-token-0000000000";
    writeFileSync(join(dir, "beta.token"), `${wrong}\n`);
    for (const d of Object.values(doubles)) d.startMutations({ everyMs: 50, see: 3, create: 1 });
    await new Promise((r) => setTimeout(r, 300));
    for (const d of Object.values(doubles)) d.stopMutations();
    const again = await cli(["sync"], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/error: account beta: .*(token|401|403)/i);
    expect(again.stdout).toMatch(/^sync: 3 account\(s\) in .*: 2 succeeded, 1 failed/m);
    expect(again.stdout).toMatch(/^ {2}beta: FAILED \(auth\)/m);
    expect(again.stdout).toMatch(/^ {2}alpha: succeeded/m);
    expect(again.stdout).toMatch(/^ {2}gamma: succeeded/m);
    expect(again.stdout + again.stderr).not.toContain(wrong);
    expectSameContacts(await mirror(db, "alpha"), source(doubles.alpha!, seen), "alpha");
    expectSameContacts(await mirror(db, "gamma"), source(doubles.gamma!, seen), "gamma");

    // --account narrows to one; status has a line per account with its verdict.
    const one = await cli(["sync", "--json", "--account", "gamma"], env);
    expect(one.code, one.stderr).toBe(0);
    expect(JSON.parse(one.stdout).accounts.map((a: { account: string }) => a.account)).toEqual(["gamma"]);
    const status = await cli(["status"], env);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/^account alpha: fresh \(last complete incremental/m);
    expect(status.stdout).toMatch(/^account beta: fresh .*last run FAILED/m);
    expect(status.stdout).toMatch(/^account gamma: fresh/m);
    const unknown = await cli(["sync", "--account", "gama"], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('--account: no account "gama" in ACCOUNTS_FILE');
    expect(unknown.stderr).toContain("did you mean gamma?");
  }, 180_000);

  it("accounts on one host share its budget of requests in flight", async () => {
    const token = "shared-host-token-5e6f7a8b";
    const double = await startApiDouble({ token, contacts: 600, seed: 5, pageSize: 20, latencyMs: 40 });
    const db = await createDatabase({ migrate: false });
    cleanup.push(() => double.close(), () => db.drop());
    const dir = mkdtempSync(join(tmpdir(), "contacts-sync-accounts-"));
    writeFileSync(join(dir, "token"), token);
    const file = join(dir, "accounts.json");
    // JSON is YAML too. Five accounts on one host, four lanes each: 20 requests would be in flight without the budget.
    writeFileSync(file, JSON.stringify({ accounts: ["a1", "a2", "a3", "a4", "a5"].map((name) => ({ name, url: double.url, token_file: join(dir, "token") })) }));
    const run = await cli(["sync", "--json"], {
      ACCOUNTS_FILE: file, DATABASE_URL: db.url, SYNC_LAG: "0", SYNC_ACCOUNTS_CONCURRENCY: "5", SYNC_CONCURRENCY: "4", INBOX_HOST_CONCURRENCY: "3",
    });
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.totals.succeeded).toBe(5);
    expect(report.hosts).toHaveLength(1);
    expect(report.hosts[0].peakInFlight).toBeLessThanOrEqual(3);
    // What the API saw: never more than the budget at once, and the budget was used.
    expect(double.stats.peakInFlight).toBeLessThanOrEqual(3);
    expect(double.stats.peakInFlight).toBeGreaterThanOrEqual(2);
    for (const name of ["a1", "a2", "a3", "a4", "a5"]) expectSameContacts(await mirror(db, name), source(double, seen), name);
  }, 180_000);

  it("demo --accounts 3: three doubles, three accounts with their own data, a summary per account", async () => {
    const db = await createDatabase({ migrate: false });
    cleanup.push(() => db.drop());
    const dataDir = mkdtempSync(join(tmpdir(), "contacts-sync-demo-accounts-"));
    const run = await cli(["demo", "--accounts", "3", "--contacts", "300", "--json", "--quiet"], { DATABASE_URL: db.url, CONTACTS_SYNC_DATA_DIR: dataDir });
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.accounts.map((a: { account: string; status: string }) => [a.account, a.status])).toEqual([["demo-1", "succeeded"], ["demo-2", "succeeded"], ["demo-3", "succeeded"]]);
    const { rows } = await db.pool.query<{ account: string; n: number }>("select account, count(*)::int as n from contacts group by account order by account");
    expect(rows.map((r) => r.account)).toEqual(["demo-1", "demo-2", "demo-3"]);
    // Different data: sizes 300, 200, 100 (less the contacts never seen), as each account's summary says.
    expect(rows[0]!.n).toBeGreaterThan(rows[1]!.n);
    expect(rows[1]!.n).toBeGreaterThan(rows[2]!.n);
    for (const [i, r] of rows.entries()) expect(report.accounts[i].inserted).toBe(r.n);
    const text = await cli(["demo", "--accounts", "3", "--contacts", "300"], { DATABASE_URL: db.url, CONTACTS_SYNC_DATA_DIR: dataDir });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^ {2}demo-1: succeeded/m);
    expect(text.stdout).toMatch(/^sync: 3 account\(s\) in .*: 3 succeeded, 0 failed/m);
  }, 120_000);
});
