// `contacts-sync demo`: the product out of the box. Starts the bundled API double with a realistic data set,
// mirrors it into the configured (or embedded) PostgreSQL under the account "demo", and prints what happened
// and how to look at it. Between runs the double's account lives on, as a real one does: before each later
// run it replays every earlier round of changes (same seed, same instants: the same account), then makes a
// new round: some contacts seen, some created, some edited silently and some deleted. An incremental pass
// sees the first two kinds; `demo --reconcile` adds the full pass that finds the other two.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import type { Config } from "../config.js";
import { openApp, createClient } from "../app.js";
import type { Logger } from "../log.js";
import { startApiDouble } from "../double/server.js";
import type { ContactStore } from "../double/store.js";
import { runIncremental, runReconcile, type RunSummary } from "../sync/runPass.js";
import { Progress } from "../progress.js";
import { formatSummary, summaryJson } from "./passes.js";
import type { AccountConfig } from "../accounts.js";
import { HostGates } from "../api/hostGate.js";
import { forEachAccount, passReport } from "./many.js";

export const DEMO_ACCOUNT = "demo";
export const DEFAULT_DEMO_CONTACTS = 10_000;
const SEED = 42;
/** One round of changes between two demo runs. */
const ROUND = { seen: 25, created: 10, editedSilently: 5, deleted: 3 };

interface DemoState {
  /** Where the generated data set ends: fixed at the first run, so every run serves the same account. */
  anchor: number;
  runs: number;
  contacts: number;
  /** When each round of changes happened (replayed in order at every start of the double). */
  rounds: number[];
}

export interface DemoResult {
  text: string;
  json: Record<string, unknown>;
}

function applyRound(store: ContactStore, at: number): void {
  const alive = (c: { isContact: boolean; status: string; lastSeenAt: string | null }) => c.isContact && c.status !== "DELETED" && c.lastSeenAt !== null;
  for (const id of store.randomIds(ROUND.seen, alive)) store.see(id, at);
  // New contacts, seen at that instant (the data set's clock is fixed, so their sighting is set explicitly).
  for (const c of store.create(ROUND.created)) store.see(c._id, at);
  for (const id of store.randomIds(ROUND.editedSilently, alive)) store.editSilently(id);
  for (const id of store.randomIds(ROUND.deleted, alive)) store.delete(id);
}

export async function demo(config: Config, logger: Logger, options: { contacts?: number; reconcile?: boolean; quiet?: boolean }): Promise<DemoResult> {
  mkdirSync(resolve(config.dataDir), { recursive: true });
  const stateFile = resolve(config.dataDir, "demo.json");
  const saved = existsSync(stateFile) ? (JSON.parse(readFileSync(stateFile, "utf8")) as Partial<DemoState>) : undefined;
  const state: DemoState = {
    anchor: saved?.anchor ?? Date.now() - 120_000,
    runs: saved?.runs ?? 0,
    contacts: saved?.contacts ?? options.contacts ?? DEFAULT_DEMO_CONTACTS,
    rounds: saved?.rounds ?? [],
  };
  const notes: string[] = [];
  if (options.contacts !== undefined && options.contacts !== state.contacts) {
    // A different size is a different account: the mirror would see thousands of contacts appear or vanish.
    notes.push(
      `note: --contacts ${options.contacts} is not applied: this demo account was created with ${state.contacts} contacts, and later ` +
        `runs continue that account. To start a new demo of another size, use a fresh data folder: ` +
        `CONTACTS_SYNC_DATA_DIR=.data-demo-${options.contacts} ./bin/contacts-sync demo --contacts ${options.contacts}` +
        (config.databaseUrl ? " (with DATABASE_URL set, also a fresh database)." : "."),
    );
  }
  const token = randomBytes(16).toString("hex");
  const double = await startApiDouble({ token, contacts: state.contacts, seed: SEED, anchor: state.anchor, now: () => state.anchor, pageSize: 100 });
  const demoConfig: Config = { ...config, account: DEMO_ACCOUNT, apiUrl: new URL(double.url), token, startAt: new Date("2000-01-01T00:00:00Z") };
  for (const at of state.rounds) applyRound(double.store, at);
  if (state.runs > 0) {
    const at = Date.now() - 90_000;
    applyRound(double.store, at);
    state.rounds.push(at);
  }
  const app = await openApp(demoConfig, logger);
  const client = createClient(demoConfig, logger, token);
  try {
    const pass = async (run: (ctx: Parameters<typeof runIncremental>[0]) => Promise<RunSummary>) => {
      const progress = options.quiet
        ? undefined
        : new Progress({ http: client, logger, terminal: process.stderr.isTTY ? process.stderr : undefined, intervalMs: config.progressIntervalMs, concurrency: config.concurrency, color: !process.env.NO_COLOR }).start();
      try {
        return await run({ db: app.db, client, config: demoConfig, logger, onPage: progress?.onPage });
      } finally {
        progress?.stop();
      }
    };
    const incremental = await pass(runIncremental);
    const reconcile = options.reconcile ? await pass((ctx) => runReconcile(ctx)) : undefined;
    state.runs += 1;
    writeFileSync(stateFile, JSON.stringify(state));
    const [row] = await app.db.prisma.$queryRaw<{ n: number }[]>`SELECT count(*)::int AS n FROM contacts WHERE account = ${DEMO_ACCOUNT} AND deleted_at IS NULL`;
    const everSeen = double.store.visible().filter((c) => c.lastSeenAt !== null).length;
    const total = double.store.visible().length;
    const where = app.embedded
      ? `./bin/contacts-sync db   (keeps the embedded PostgreSQL under ${resolve(config.dataDir)} running and prints its psql URL)`
      : `psql "$DATABASE_URL"`;
    const changed = state.runs > 1
      ? [
          `since the last run the double's account changed: ${ROUND.seen} contacts seen again and ${ROUND.created} created (an incremental ` +
            `pass reads these), ${ROUND.editedSilently} edited without being seen and ${ROUND.deleted} deleted (only a full pass finds these).`,
          reconcile
            ? "the reconcile pass above read every contact: it rewrote the silently edited ones and marked the deleted ones (deleted_at)."
            : "to see the silent edits and deletions, run the full pass too:  ./bin/contacts-sync demo --reconcile",
        ]
      : ["run `./bin/contacts-sync demo` again: the double's account changes between runs, and the second run is incremental."];
    const text = [
      ...notes,
      `demo run ${state.runs}: the double serves ${total} live contacts (seed ${SEED}); ${everSeen} of them were ever seen (lastSeenAt), ` +
        "which is what an incremental pass reads (a reconcile reads them all).",
      formatSummary(incremental),
      ...(reconcile ? [formatSummary(reconcile)] : []),
      `the mirror now holds ${row?.n ?? 0} live demo contacts (account '${DEMO_ACCOUNT}'): ./bin/contacts-sync status --account ${DEMO_ACCOUNT}`,
      ...changed,
      `look at it: ${where}`,
      `  then: SELECT name, email, status, tags, last_seen_at FROM contacts WHERE account = '${DEMO_ACCOUNT}' ORDER BY last_seen_at DESC NULLS LAST LIMIT 10;`,
      "  (docs/sql.md's examples use account = 'default': write 'demo' instead to run them on this data)",
    ].join("\n");
    return {
      text,
      json: {
        run: state.runs,
        account: DEMO_ACCOUNT,
        notes,
        double: { contacts: total, everSeen, seed: SEED, lastRound: state.runs > 1 ? ROUND : null },
        incremental: summaryJson(incremental),
        ...(reconcile ? { reconcile: summaryJson(reconcile) } : {}),
        mirror: { live: row?.n ?? 0 },
      },
    };
  } finally {
    await client.close();
    await double.close();
    await app.close();
  }
}

/**
 * `demo --accounts N`: N accounts, each on its own API double (its own token, seed and size), mirrored side by
 * side as the accounts of an ACCOUNTS_FILE are (src/commands/many.ts), with the per-account summary. The data
 * sets are fixed at the first run (the anchor is kept in the data folder), so a later run is incremental.
 */
export async function demoAccounts(config: Config, logger: Logger, options: { accounts: number; contacts?: number; quiet?: boolean }): Promise<DemoResult> {
  mkdirSync(resolve(config.dataDir), { recursive: true });
  const stateFile = resolve(config.dataDir, "demo-accounts.json");
  const saved = existsSync(stateFile) ? (JSON.parse(readFileSync(stateFile, "utf8")) as { anchor?: number; runs?: number }) : {};
  const anchor = saved.anchor ?? Date.now() - 120_000;
  const runs = (saved.runs ?? 0) + 1;
  const size = options.contacts ?? 3_000;
  const doubles: Awaited<ReturnType<typeof startApiDouble>>[] = [];
  const accounts: AccountConfig[] = [];
  try {
    for (let i = 0; i < options.accounts; i += 1) {
      const token = randomBytes(16).toString("hex");
      // Different data per account: its own seed, and sizes from `size` down.
      const contacts = Math.max(1, Math.round((size * (options.accounts - i)) / options.accounts));
      const double = await startApiDouble({ token, contacts, seed: SEED + i, anchor, now: () => anchor, pageSize: 100 });
      doubles.push(double);
      accounts.push({ ...config, account: `${DEMO_ACCOUNT}-${i + 1}`, apiUrl: new URL(double.url), token, tokenFile: undefined, tokenEnv: undefined, startAt: new Date("2000-01-01T00:00:00Z") });
    }
    const app = await openApp({ ...config, accountsFile: "(demo)" }, logger);
    const gates = new HostGates(config.hostConcurrency);
    const signal = new AbortController().signal;
    const started = Date.now();
    try {
      const outcomes = await forEachAccount(accounts, config.accountsConcurrency, signal, logger, async (account, log) => {
        const client = createClient(account, log, account.token, { gate: gates.gate(account.apiUrl, account.account) });
        try {
          return await runIncremental({ db: app.db, client, config: account, logger: log });
        } finally {
          await client.close();
        }
      });
      writeFileSync(stateFile, JSON.stringify({ anchor, runs }));
      const report = passReport("sync", outcomes, Date.now() - started, gates);
      const text = [
        `demo run ${runs} with ${options.accounts} accounts, each on its own API double (own token, seed and size), at most ${config.accountsConcurrency} at once:`,
        report.text,
        `each account's rows carry its name: ./bin/contacts-sync status   or   SELECT account, count(*) FROM contacts GROUP BY account;`,
        "run it again: the second run of each account is incremental.",
      ].join("\n");
      return { text, json: { run: runs, ...report.json } };
    } finally {
      await app.close();
    }
  } finally {
    for (const d of doubles) await d.close();
  }
}
