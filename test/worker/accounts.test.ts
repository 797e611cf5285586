// Two worker replicas over ten accounts (ACCOUNTS_FILE), one database: PostgreSQL divides the accounts between
// them (each pass takes its account's lock without waiting; a replica finding it busy moves on), no account is
// ever synced by both at once (sync_runs), both serve per-account metrics and readiness, and a replica that is
// killed hands its accounts to the other at the next tick.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { freePort } from "../../src/db/embedded.js";
import { startApiDouble, type ApiDouble } from "../../src/double/server.js";
import { createDatabase } from "../helpers/db.js";
import { mirror, source } from "../helpers/sync.js";
import { explained, get, NEVER, overlaps, parsePrometheus, spawnWorker, value, waitFor, type WorkerProcess } from "./helpers.js";

let cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

const NAMES = Array.from({ length: 10 }, (_, i) => `acct-${String(i + 1).padStart(2, "0")}`);

describe("two workers, ten accounts, one database", () => {
  it("share the accounts, never sync one at once, and a killed replica's accounts go to the other", async () => {
    const doubles: ApiDouble[] = [];
    for (const [i, name] of NAMES.entries()) doubles.push(await startApiDouble({ token: `${name}-token-${i}abcdef`, contacts: 80 + 20 * i, seed: 100 + i, pageSize: 25, latencyMs: 40 }));
    const db = await createDatabase({ migrate: false });
    cleanup.push(async () => { for (const d of doubles) await d.close(); }, () => db.drop());
    const dir = mkdtempSync(join(tmpdir(), "contacts-sync-fleet-"));
    const file = join(dir, "accounts.yaml");
    const env: Record<string, string> = { DATABASE_URL: db.url, SYNC_LAG: "0", ACCOUNTS_FILE: file, SYNC_CRON: "*/2 * * * * *", RECONCILE_CRON: NEVER, SYNC_ACCOUNTS_CONCURRENCY: "3" };
    const lines = ["accounts:"];
    for (const [i, name] of NAMES.entries()) {
      writeFileSync(join(dir, `${name}.token`), `${name}-token-${i}abcdef\n`);
      lines.push(`  - name: ${name}`, `    url: ${doubles[i]!.url}`, `    token_file: ${join(dir, `${name}.token`)}`);
    }
    writeFileSync(file, `${lines.join("\n")}\n`);
    for (const d of doubles) d.startMutations({ everyMs: 300, see: 2, create: 1 });

    const ports = [await freePort(), await freePort()];
    const workers: WorkerProcess[] = ports.map((port) => spawnWorker({ ...env, HTTP_PORT: String(port) }));
    cleanup.push(async () => {
      for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.signal("SIGKILL");
      await Promise.all(workers.map((w) => w.exit));
    });
    const [a, b] = workers as [WorkerProcess, WorkerProcess];
    const finishedBy = (w: WorkerProcess) => w.logs().filter((l) => l.msg === "incremental run finished").map((l) => String(l.account));
    const succeeded = async (after = new Date(0)) =>
      new Set((await db.pool.query<{ account: string }>("select distinct account from sync_runs where kind = 'incremental' and status = 'succeeded' and started_at > $1", [after])).rows.map((r) => r.account));

    // Every account synced, by one replica or the other; both replicas took part.
    await explained(a, waitFor("every account synced at least once, by both replicas together", async () =>
      (await succeeded()).size === NAMES.length && finishedBy(a).length > 0 && finishedBy(b).length > 0, 150_000, 200));
    // Ready, with every account listed; one series per configured account.
    const ready = await waitFor("/readyz 200 on both", async () => {
      const answers = await Promise.all(ports.map((p) => get(p, "/readyz")));
      return answers.every((r) => r.status === 200) ? answers : undefined;
    }, 60_000, 200);
    expect(ready[0]!.json().checks.accounts).toMatchObject({ ok: true, total: 10, fresh: 10, stale: [] });
    const metrics = parsePrometheus((await get(ports[0]!, "/metrics")).text);
    const series = metrics.samples.filter((s) => s.name === "contacts_sync_runs_total" && s.labels.kind === "incremental" && s.labels.outcome === "succeeded");
    expect(series.map((s) => s.labels.account).sort()).toEqual(NAMES);
    expect(value(metrics.samples, "contacts_sync_accounts")).toBe(10);

    // Kill one replica mid-work: its session locks die with its connections; the other takes its accounts.
    const hadA = new Set(finishedBy(a));
    a.signal("SIGKILL");
    const killed = await a.exit;
    const after = new Date(killed.at);
    await explained(b, waitFor("every account synced after the kill (so by the survivor), those of the killed replica included", async () =>
      (await succeeded(after)).size === NAMES.length, 120_000, 200));
    const bAfter = new Set(b.logs().filter((l) => l.msg === "incremental run finished" && Date.parse(String(l.time)) >= killed.at).map((l) => String(l.account)));
    for (const name of hadA) expect(bAfter.has(name), `${name}, synced by the killed replica, is synced by the survivor`).toBe(true);

    for (const d of doubles) d.stopMutations();
    const quiet = new Date();
    await waitFor("every account synced after the changes stopped", async () => (await succeeded(quiet)).size === NAMES.length, 120_000, 200);
    b.signal("SIGTERM");
    expect((await b.exit).code).toBe(0);

    // No account was ever synced by both at once. A pass the kill cut short is closed later by the next pass of its
    // account ("never closed"), or stays open: it ended when its process did, so it is taken as ending at the kill.
    const runs = (await db.pool.query("select id::text, account, status, started_at, finished_at, error from sync_runs order by id")).rows;
    const isCut = (r: { finished_at: Date | null; error: string | null }) => r.finished_at === null || /never closed/.test(r.error ?? "");
    const cut = runs.filter(isCut);
    expect(cut.every((r) => r.started_at.getTime() <= killed.at)).toBe(true);
    for (const name of NAMES) {
      const mine = runs.filter((r) => r.account === name && !isCut(r));
      const cutShort = cut.filter((r) => r.account === name).map((r) => ({ ...r, finished_at: after }));
      expect(overlaps([...mine, ...cutShort]), name).toEqual([]);
    }
    expect(runs.filter((r) => r.status === "failed" && !isCut(r))).toEqual([]);
    const all = workers.flatMap((w) => w.logs());
    expect(all.filter((l) => (l.level as number) >= 50)).toEqual([]);
    // And each account's mirror is whole and its own.
    for (const [i, name] of NAMES.entries()) {
      const got = await mirror(db, name);
      const want = source(doubles[i]!, (c) => c.lastSeenAt != null);
      expect([...want.keys()].filter((id) => !got.has(id)), name).toEqual([]);
      expect([...got.keys()].filter((id) => !want.has(id)), name).toEqual([]);
    }
  }, 420_000);
});
