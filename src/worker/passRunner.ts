// One pass as the worker runs it: the current token (INBOX_API_TOKEN_FILE is read again before each pass,
// so a rotated secret is used without a restart), the metrics, and the report of a failure. The pass
// itself (lock, pages, checkpoint, run row, its own log line) is the sync engine's (sync/runPass.ts).
import type { ClientOptions, InboxClient } from "../api/client.js";
import { createClient } from "../app.js";
import type { Config } from "../config.js";
import { readTokenFile } from "../config.js";
import type { Database } from "../db/client.js";
import { readCheckpoint } from "../db/sql/checkpoints.js";
import { remapContacts } from "../db/sql/remapContacts.js";
import type { RunCounters } from "../db/sql/runs.js";
import { AccountBusyError, ApiError, ConfigError, ContractError, StoppedError } from "../errors.js";
import { registerSecret, scrub, type Logger } from "../log.js";
import type { FailureReason, Outcome, PassKind, SyncMetrics } from "../metrics.js";
import { runIncremental, runReconcile, type RunSummary } from "../sync/runPass.js";
import { Progress } from "../progress.js";

export interface PassRunnerOptions {
  config: Config;
  db: Database;
  logger: Logger;
  metrics: SyncMetrics;
  /** Aborted on shutdown: the pass stops at the next page boundary. */
  signal: AbortSignal;
  /** Client settings for tests (short back-off); with ACCOUNTS_FILE also the host's shared budget (`gate`). */
  clientOptions?: Partial<ClientOptions>;
  /** false (ACCOUNTS_FILE): an account another replica is syncing is skipped ("busy") instead of waited for. */
  lockWait?: boolean;
}

/** What a pass came to; "busy": another process held the account, nothing was done (only with lockWait false). */
export type PassOutcome = Outcome | "busy";

/** How long the re-derivation of rows an older mapping wrote may run after each pass (src/db/sql/remapContacts.ts). */
export const REMAP_SLICE_MS = 10_000;

export class PassRunner {
  private client: InboxClient | undefined;
  private token: string | undefined;

  constructor(private readonly options: PassRunnerOptions) {
    this.token = options.config.token;
  }

  /** The account's settings changed (ACCOUNTS_FILE read again): a new URL, token or filters get a new client. */
  update(config: Config): void {
    const old = this.options.config;
    this.options.config = config;
    if (config.token !== this.token || config.apiUrl.href !== old.apiUrl.href || JSON.stringify(config.filters) !== JSON.stringify(old.filters)) {
      if (config.token !== this.token) registerSecret(config.token);
      this.token = config.token;
      const client = this.client;
      this.client = undefined;
      client?.close().catch(() => undefined);
    }
  }

  async run(kind: PassKind): Promise<PassOutcome> {
    const { config, db, logger, metrics, signal } = this.options;
    const started = performance.now();
    const tally = metrics.tally(kind);
    let outcome: PassOutcome = "succeeded";
    metrics.runInProgress.set({ kind }, 1);
    let progress: Progress | undefined;
    try {
      const client = this.currentClient();
      // A long pass (a first sync, the nightly reconcile) logs its progress every PROGRESS_INTERVAL.
      progress = new Progress({ http: client, logger, intervalMs: config.progressIntervalMs, concurrency: config.concurrency }).start();
      const onPage = (pageKind: Parameters<Progress["onPage"]>[0], counters: RunCounters) => {
        tally(counters);
        progress?.onPage(pageKind, counters);
      };
      const ctx = { db, client, config, logger, signal, onPage, onConcurrency: progress?.onConcurrency, lockWait: this.options.lockWait };
      const summary = kind === "incremental" ? await runIncremental(ctx) : await runReconcile(ctx);
      tally(summary);
      metrics.observeClockSkew(summary.clockSkewMs);
      await this.remapSlice();
    } catch (error) {
      const summary = (error as { summary?: RunSummary }).summary;
      if (summary) tally(summary);
      outcome = error instanceof AccountBusyError ? "busy" : error instanceof StoppedError ? "stopped" : "failed";
      if (outcome === "failed") this.reportFailure(kind, error, summary !== undefined);
    } finally {
      progress?.stop();
      const seconds = (performance.now() - started) / 1000;
      // Checkpoint gauges first: once a pass is counted, every metric of it is in place.
      await this.refreshCheckpoints();
      if (outcome === "busy") metrics.ticksSkipped.inc({ kind, reason: "elsewhere" });
      else {
        metrics.runDuration.observe({ kind, outcome }, seconds);
        metrics.runs.inc({ kind, outcome });
      }
      metrics.runInProgress.set({ kind }, 0);
    }
    return outcome;
  }

  /**
   * After a pass: a bounded slice of re-deriving rows an older mapping wrote. Rows are taken with SKIP LOCKED
   * and committed in small batches, so the next pass (here or in another replica) is never held up for
   * more than one batch; a failure here is logged and retried after the next pass, never fails the pass.
   */
  async remapSlice(): Promise<void> {
    const { config, db, logger, metrics, signal } = this.options;
    try {
      const summary = await remapContacts(db, config.account, logger, { budgetMs: REMAP_SLICE_MS, signal });
      metrics.remapped.inc({ result: "changed" }, summary.changed);
      metrics.remapped.inc({ result: "unchanged" }, summary.rows - summary.changed);
      if (summary.remaining >= 0) metrics.remapRemaining.set(summary.remaining);
    } catch (error) {
      logger.warn({ error: scrub(error instanceof Error ? error.message : String(error)) }, "re-deriving rows of an older mapping failed; the rows keep their columns and the next pass tries again");
    }
  }

  /** Reads the checkpoints into the metrics (lag, last success); a database that is away is no error here. */
  async refreshCheckpoints(): Promise<void> {
    const { db, config, metrics } = this.options;
    for (const kind of ["incremental", "reconcile"] as const) {
      try {
        metrics.observeCheckpoint(kind, await readCheckpoint(db.prisma, config.account, kind));
      } catch {
        return;
      }
    }
  }

  async close(): Promise<void> {
    await this.client?.close();
    this.client = undefined;
  }

  private currentClient(): InboxClient {
    const { config, logger, metrics } = this.options;
    if (config.tokenFile !== undefined) {
      const token = readTokenFile(config.tokenFile);
      if (token !== this.token) {
        registerSecret(token);
        logger.info("INBOX_API_TOKEN_FILE holds a new token; using it from this pass on");
        this.token = token;
        const old = this.client;
        this.client = undefined;
        old?.close().catch(() => undefined);
      }
    }
    this.client ??= createClient(config, logger, this.token, {
      onAnswer: (status) => metrics.requests.inc({ status: String(status) }),
      onRetry: (error) => metrics.retries.inc({ status: String(error.details.status ?? "error") }),
      ...this.options.clientOptions,
    });
    return this.client;
  }

  private reportFailure(kind: PassKind, error: unknown, loggedByPass: boolean): void {
    const { logger, metrics } = this.options;
    const reason = failureReason(error);
    metrics.runFailures.inc({ kind, reason });
    const message = scrub(error instanceof Error ? error.message : String(error));
    if (reason === "auth") {
      // Loud on purpose, every pass: nothing is mirrored until someone replaces the token.
      logger.error(
        { kind, reason, status: (error as ApiError).details.status },
        "THE INBOX API REFUSES THE TOKEN: nothing is being mirrored. Put a valid token in INBOX_API_TOKEN_FILE " +
          "(read again before every pass) or INBOX_API_TOKEN (then restart); the worker keeps trying.",
      );
    } else if (!loggedByPass) {
      // The pass did not get as far as its own log line (e.g. the database is unreachable).
      logger.error({ kind, reason, error: message }, `${kind} pass could not start`);
    }
  }
}

export function failureReason(error: unknown): FailureReason {
  if (error instanceof ApiError) return error.kind;
  if (error instanceof ContractError) return "contract";
  if (error instanceof ConfigError) return "config";
  const e = error as { name?: string; code?: unknown; severity?: unknown };
  const networkCodes = ["ECONNREFUSED", "ECONNRESET", "ENOTFOUND", "ETIMEDOUT", "EHOSTUNREACH", "EPIPE"];
  if (
    (typeof e?.name === "string" && /Prisma|DriverAdapter/.test(e.name)) ||
    typeof e?.severity === "string" || // an error PostgreSQL sent
    (typeof e?.code === "string" && networkCodes.includes(e.code)) ||
    (error instanceof Error && /Connection terminated|connect(ion)? timeout|database/i.test(error.message))
  ) {
    return "database";
  }
  return "other";
}
