// The worker reads ACCOUNTS_FILE again at every tick: an account added is synced, a rotated token is used, and
// an account removed is no longer served (its metrics series go), all without a restart; a file that becomes
// invalid keeps the accounts as last read.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { freePort } from "../../src/db/embedded.js";
import { startApiDouble } from "../../src/double/server.js";
import { createDatabase } from "../helpers/db.js";
import { explained, get, NEVER, parsePrometheus, spawnWorker, value, waitFor } from "./helpers.js";

let cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

describe("ACCOUNTS_FILE read again at every tick", () => {
  it("adds, re-keys and removes accounts without a restart", async () => {
    const one = await startApiDouble({ token: "one-token-aaaa1111", contacts: 60, seed: 1, pageSize: 20 });
    const two = await startApiDouble({ token: "two-token-bbbb2222", contacts: 90, seed: 2, pageSize: 20 });
    const db = await createDatabase({ migrate: false });
    cleanup.push(() => one.close(), () => two.close(), () => db.drop());
    const dir = mkdtempSync(join(tmpdir(), "contacts-sync-reload-"));
    writeFileSync(join(dir, "one.token"), "one-token-aaaa1111");
    const file = join(dir, "accounts.yaml");
    const entry = (name: string, url: string, tokenLine: string) => `  - name: ${name}\n    url: ${url}\n    ${tokenLine}\n`;
    writeFileSync(file, `accounts:\n${entry("one", one.url, `token_file: ${join(dir, "one.token")}`)}`);
    const port = await freePort();
    const worker = spawnWorker({
      DATABASE_URL: db.url, SYNC_LAG: "0", ACCOUNTS_FILE: file, SYNC_CRON: "*/1 * * * * *", RECONCILE_CRON: NEVER, HTTP_PORT: String(port), TWO_TOKEN: "two-token-bbbb2222",
    });
    cleanup.push(async () => {
      if (worker.child.exitCode === null && worker.child.signalCode === null) worker.signal("SIGKILL");
      await worker.exit;
    });
    const succeededSince = async (account: string, since: Date) =>
      (await db.pool.query("select 1 from sync_runs where account = $1 and kind = 'incremental' and status = 'succeeded' and started_at > $2", [account, since])).rowCount;
    await explained(worker, waitFor("account one synced", () => succeededSince("one", new Date(0)), 60_000, 100));

    // Added: synced from the next tick on.
    writeFileSync(file, `accounts:\n${entry("one", one.url, `token_file: ${join(dir, "one.token")}`)}${entry("two", two.url, "token_env: TWO_TOKEN")}`);
    await explained(worker, waitFor("account two, added to the file, synced", () => succeededSince("two", new Date(0)), 60_000, 100));

    // A rotated token: the API now accepts only the new one; the file gets it; passes go on succeeding.
    one.setOptions({ token: "one-token-cccc3333" });
    writeFileSync(join(dir, "one.token"), "one-token-cccc3333");
    const rotated = new Date();
    await explained(worker, waitFor("account one synced with its new token", () => succeededSince("one", rotated), 60_000, 100));

    // An invalid file: logged, and both accounts are still served.
    writeFileSync(file, "accounts:\n  - name: one\n    tokn_file: x\n");
    await explained(worker, waitFor("the invalid file reported", () => worker.logs().some((l) => /ACCOUNTS_FILE cannot be used/.test(String(l.msg))), 30_000, 100));
    const broken = new Date();
    await explained(worker, waitFor("both accounts still synced", async () => (await succeededSince("one", broken)) && (await succeededSince("two", broken)), 60_000, 100));
    expect(value(parsePrometheus((await get(port, "/metrics")).text).samples, "contacts_sync_accounts_file_ok")).toBe(0);

    // Removed: no longer served, and its series are gone.
    writeFileSync(file, `accounts:\n${entry("two", two.url, "token_env: TWO_TOKEN")}`);
    await explained(worker, waitFor("account one removed", () => worker.logs().some((l) => l.account === "one" && /removed/.test(String(l.msg))), 30_000, 100));
    const metrics = parsePrometheus((await get(port, "/metrics")).text);
    const accounts = new Set(metrics.samples.filter((s) => s.name === "contacts_sync_runs_total").map((s) => s.labels.account));
    expect([...accounts]).toEqual(["two"]);
    expect(value(metrics.samples, "contacts_sync_accounts_file_ok")).toBe(1);
    await new Promise((r) => setTimeout(r, 2500));
    const removed = new Date();
    await new Promise((r) => setTimeout(r, 3000));
    expect(await succeededSince("one", removed)).toBe(0);
    expect(await succeededSince("two", removed)).toBeGreaterThan(0);

    worker.signal("SIGTERM");
    expect((await worker.exit).code).toBe(0);
    const all = worker.logs();
    for (const secret of ["one-token-aaaa1111", "one-token-cccc3333", "two-token-bbbb2222"]) expect(worker.lines.join("\n")).not.toContain(secret);
    expect(all.filter((l) => (l.level as number) >= 50 && !/ACCOUNTS_FILE cannot be used/.test(String(l.msg)))).toEqual([]);
  }, 300_000);
});
