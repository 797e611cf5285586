// `sync`, `reconcile` and `check` over every account of ACCOUNTS_FILE (or the one `--account` names): up to
// SYNC_ACCOUNTS_CONCURRENCY accounts at once, their requests drawing on one budget per API host. An account
// that fails does not stop the others: its error is printed (stderr) as it happens, the summary (or --json)
// has one entry per account and the totals, and the exit status is 1 when any account failed.
import type { AccountConfig } from "../accounts.js";
import { createClient, openApp } from "../app.js";
import { HostGates } from "../api/hostGate.js";
import { remapContacts } from "../db/sql/remapContacts.js";
import { StoppedError } from "../errors.js";
import { registerSecret, scrub, type Logger } from "../log.js";
import { onShutdown } from "../signals.js";
import { runIncremental, runReconcile, type RunSummary } from "../sync/runPass.js";
import { failureReason } from "../worker/passRunner.js";
import { formatCheck, runCheck, type CheckReport } from "./check.js";
import { summaryJson } from "./passes.js";
import type { CommandContext } from "./table.js";

/** After each account's pass, at most this long is spent re-deriving rows an older mapping wrote (as `sync`). */
const REMAP_SLICE_MS = 10_000;

export interface AccountOutcome<T> {
  account: string;
  status: "succeeded" | "failed" | "stopped";
  result?: T;
  /** The failure (scrubbed) and its category (auth, transient, database...). */
  error?: string;
  reason?: string;
}

/** Runs `work` for every account, at most `limit` at once, in file order; never rejects. */
export async function forEachAccount<T>(
  accounts: AccountConfig[],
  limit: number,
  signal: AbortSignal,
  logger: Logger,
  work: (account: AccountConfig, logger: Logger) => Promise<T>,
): Promise<AccountOutcome<T>[]> {
  const outcomes: AccountOutcome<T>[] = new Array(accounts.length);
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < accounts.length; i = next++) {
      const account = accounts[i]!;
      if (signal.aborted) {
        outcomes[i] = { account: account.account, status: "stopped" };
        continue;
      }
      const log = logger.child({ account: account.account });
      registerSecret(account.token);
      try {
        outcomes[i] = { account: account.account, status: "succeeded", result: await work(account, log) };
      } catch (error) {
        const stopped = error instanceof StoppedError;
        const message = scrub(error instanceof Error ? error.message : String(error));
        const partial = (error as { summary?: T }).summary;
        outcomes[i] = { account: account.account, status: stopped ? "stopped" : "failed", ...(partial ? { result: partial } : {}), error: message, reason: stopped ? undefined : failureReason(error) };
        // Loud, at once, and one per account: the other accounts go on.
        if (!stopped) process.stderr.write(`error: account ${account.account}: ${message}\n`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, accounts.length) }, lane));
  return outcomes;
}

export async function passForAccounts(name: "sync" | "reconcile", { values, config, logger, out }: CommandContext, accounts: AccountConfig[]): Promise<number> {
  const app = await openApp(config, logger);
  const shutdown = new AbortController();
  const unsubscribe = onShutdown(logger, () => shutdown.abort());
  const gates = new HostGates(config.hostConcurrency);
  const started = Date.now();
  try {
    const outcomes = await forEachAccount(accounts, config.accountsConcurrency, shutdown.signal, logger, async (account, log) => {
      const client = createClient(account, log, account.token, { gate: gates.gate(account.apiUrl, account.account) });
      try {
        const ctx = { db: app.db, client, config: account, logger: log, signal: shutdown.signal };
        const summary = name === "sync" ? await runIncremental(ctx) : await runReconcile(ctx, { allowMassDelete: values["allow-mass-delete"] === true });
        if (!shutdown.signal.aborted) {
          await remapContacts(app.db, account.account, log, { budgetMs: REMAP_SLICE_MS, signal: shutdown.signal }).catch((error: unknown) =>
            log.warn({ reason: error instanceof Error ? error.message : String(error) }, "re-deriving typed columns failed; `contacts-sync remap` finishes it"));
        }
        return summary;
      } finally {
        await client.close();
      }
    });
    const report = passReport(name, outcomes, Date.now() - started, gates);
    out(values.json ? JSON.stringify(report.json, null, 2) : report.text);
    return report.failed > 0 ? 1 : 0;
  } finally {
    unsubscribe();
    await app.close();
  }
}

const FIGURES = ["requests", "pages", "received", "inserted", "updated", "unchanged", "deleted", "restored"] as const;

export function passReport(name: string, outcomes: AccountOutcome<RunSummary>[], durationMs: number, gates?: HostGates): { text: string; json: Record<string, unknown>; failed: number } {
  const count = (status: string) => outcomes.filter((o) => o.status === status).length;
  const totals: Record<string, number> = { accounts: outcomes.length, succeeded: count("succeeded"), failed: count("failed"), stopped: count("stopped") };
  for (const f of FIGURES) totals[f] = outcomes.reduce((n, o) => n + (o.result?.[f] ?? 0), 0);
  totals.written = totals.inserted! + totals.updated!;
  const hosts = gates?.stats().map((h) => ({ host: h.host, maxInFlight: h.max, peakInFlight: h.peak, throttled: h.throttled })) ?? [];
  const json = {
    kind: name,
    ok: totals.failed === 0,
    durationMs,
    accounts: outcomes.map((o) => ({
      account: o.account,
      status: o.status,
      ...(o.result ? summaryJson(o.result) : {}),
      ...(o.error ? { error: o.error, reason: o.reason ?? null } : {}),
    })),
    totals,
    hosts,
  };
  const line = (o: AccountOutcome<RunSummary>) => {
    const s = o.result;
    const figures = s ? `requests ${s.requests}, pages ${s.pages}, received ${s.received}, inserted ${s.inserted}, updated ${s.updated}, unchanged ${s.unchanged}${name === "reconcile" ? `, marked deleted ${s.deleted}` : ""}` : "";
    if (o.status === "succeeded") return `  ${o.account}: succeeded in ${((s?.durationMs ?? 0) / 1000).toFixed(1)} s; ${figures}`;
    if (o.status === "stopped") return `  ${o.account}: stopped${s ? `; ${figures}` : " before it started"}`;
    return `  ${o.account}: FAILED${o.reason ? ` (${o.reason})` : ""}: ${(o.error ?? "").split("\n")[0]}`;
  };
  const text = [
    `${name}: ${totals.accounts} account(s) in ${(durationMs / 1000).toFixed(1)} s: ${totals.succeeded} succeeded, ${totals.failed} failed` +
      `${totals.stopped ? `, ${totals.stopped} stopped` : ""}; requests ${totals.requests}, received ${totals.received}, inserted ${totals.inserted}, ` +
      `updated ${totals.updated}, unchanged ${totals.unchanged}${name === "reconcile" ? `, marked deleted ${totals.deleted}` : ""}`,
    ...outcomes.map(line),
    ...hosts.map((h) => `  host ${h.host}: at most ${h.peakInFlight} of ${h.maxInFlight} requests in flight at once${h.throttled ? `, ${h.throttled} 429(s)` : ""}`),
  ].join("\n");
  return { text, json, failed: totals.failed! };
}

export async function checkForAccounts({ values, config, logger, out }: CommandContext, accounts: AccountConfig[]): Promise<number> {
  const app = await openApp(config, logger, { migrate: false });
  const shutdown = new AbortController();
  const unsubscribe = onShutdown(logger, () => shutdown.abort());
  try {
    const outcomes = await forEachAccount(accounts, config.accountsConcurrency, shutdown.signal, logger, (account, log) =>
      runCheck({ db: app.db, config: account, logger: log, signal: shutdown.signal }));
    const unsafe = outcomes.filter((o) => o.status === "succeeded" && o.result && !o.result.ok).length;
    const failed = outcomes.filter((o) => o.status === "failed").length;
    const totals = { accounts: outcomes.length, safe: outcomes.length - unsafe - failed - outcomes.filter((o) => o.status === "stopped").length, unsafe, failed };
    if (values.json) {
      out(JSON.stringify({
        ok: unsafe === 0 && failed === 0,
        accounts: outcomes.map((o) => ({ account: o.account, status: o.status, ...(o.result ? { check: o.result } : {}), ...(o.error ? { error: o.error, reason: o.reason } : {}) })),
        totals,
      }, null, 2));
    } else {
      const blocks = outcomes.map((o: AccountOutcome<CheckReport>) =>
        o.result ? formatCheck(o.result) : `check of account ${o.account}: ${o.status === "stopped" ? "stopped" : `FAILED: ${(o.error ?? "").split("\n")[0]}`}`);
      out([...blocks, `checked ${totals.accounts} account(s): ${totals.safe} safe, ${totals.unsafe} not safe, ${totals.failed} could not be measured`].join("\n\n"));
    }
    return unsafe > 0 || failed > 0 ? 1 : 0;
  } finally {
    unsubscribe();
    await app.close();
  }
}
