// Prometheus metrics of the worker (GET /metrics), on a registry of its own. Labels are only ever the kind
// of pass, an outcome or result word, a failure category or an HTTP status code: never a token, an
// account's data or a contact's.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { PassKind } from "./db/sql/checkpoints.js";
import type { RunCounters } from "./db/sql/runs.js";

export type { PassKind };
export type Outcome = "succeeded" | "failed" | "stopped";
/** Why a run failed, coarsely: what an operator does next differs for each. */
export type FailureReason = "auth" | "request" | "transient" | "shape" | "contract" | "database" | "config" | "other";
/** busy: that pass is still running or queued here; backoff: after repeated failures; elsewhere: another replica holds the account (ACCOUNTS_FILE). */
export type SkipReason = "busy" | "backoff" | "elsewhere";

const KINDS: PassKind[] = ["incremental", "reconcile"];
const OUTCOMES: Outcome[] = ["succeeded", "failed", "stopped"];
const RESULTS = ["inserted", "updated", "unchanged", "deleted", "restored"] as const;

export class SyncMetrics {
  readonly registry = new Registry();
  readonly runs: Counter<"kind" | "outcome">;
  readonly runFailures: Counter<"kind" | "reason">;
  readonly runDuration: Histogram<"kind" | "outcome">;
  readonly runInProgress: Gauge<"kind">;
  readonly consecutiveFailures: Gauge<"kind">;
  readonly ticksSkipped: Counter<"kind" | "reason">;
  readonly requests: Counter<"status">;
  readonly retries: Counter<"status">;
  readonly contacts: Counter<"kind" | "result">;
  readonly received: Counter<"kind">;
  readonly pages: Counter<"kind">;
  readonly lastSuccess: Gauge<"kind">;
  readonly checkpointLag: Gauge;
  readonly clockSkew: Gauge;
  readonly remapped: Counter<"result">;
  readonly remapRemaining: Gauge;
  private syncedUntil: Date | null = null;

  /** `startAt`: where the mirror begins (SYNC_START_AT); the lag counts from there until a window completes. */
  /** `account` (ACCOUNTS_FILE): every series of this registry carries account="<name>" (one registry per account). */
  constructor(options: { startAt: Date; defaultMetrics?: boolean; now?: () => number; account?: string }) {
    const now = options.now ?? Date.now;
    if (options.account !== undefined) this.registry.setDefaultLabels({ account: options.account });
    const registers = [this.registry];
    this.runs = new Counter({ name: "contacts_sync_runs_total", help: "Passes finished, by kind and outcome.", labelNames: ["kind", "outcome"], registers });
    this.runFailures = new Counter({
      name: "contacts_sync_run_failures_total",
      help: "Failed passes by kind and reason (auth: token refused; transient: API unavailable after retries; database; contract/shape/request: the API answered unexpectedly; config; other).",
      labelNames: ["kind", "reason"],
      registers,
    });
    this.runDuration = new Histogram({
      name: "contacts_sync_run_duration_seconds",
      help: "Duration of passes, by kind and outcome.",
      labelNames: ["kind", "outcome"],
      buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400],
      registers,
    });
    this.runInProgress = new Gauge({ name: "contacts_sync_run_in_progress", help: "1 while a pass of this kind runs in this process.", labelNames: ["kind"], registers });
    this.consecutiveFailures = new Gauge({
      name: "contacts_sync_consecutive_failures",
      help: "Failed passes in a row, by kind (0 after a success); from 2 on, scheduled ticks are skipped (back-off).",
      labelNames: ["kind"],
      registers,
    });
    this.ticksSkipped = new Counter({
      name: "contacts_sync_ticks_skipped_total",
      help: "Scheduled ticks not run: busy (that pass is already running or queued), backoff (after repeated failures) or elsewhere (another replica is syncing the account).",
      labelNames: ["kind", "reason"],
      registers,
    });
    this.requests = new Counter({ name: "contacts_sync_api_requests_total", help: "Inbox API answers by HTTP status code (\"error\": no answer).", labelNames: ["status"], registers });
    this.retries = new Counter({ name: "contacts_sync_api_retries_total", help: "Inbox API requests retried, by the status code of the failed attempt (\"error\": no answer).", labelNames: ["status"], registers });
    this.contacts = new Counter({
      name: "contacts_sync_contacts_total",
      help: "Contacts written or checked, by kind of pass and result (upserted = inserted + updated; deleted: marked deleted by a reconcile).",
      labelNames: ["kind", "result"],
      registers,
    });
    this.received = new Counter({ name: "contacts_sync_contacts_received_total", help: "Contacts received from the API in committed pages, by kind of pass.", labelNames: ["kind"], registers });
    this.pages = new Counter({ name: "contacts_sync_pages_total", help: "Pages committed (with their checkpoint), by kind of pass.", labelNames: ["kind"], registers });
    this.lastSuccess = new Gauge({
      name: "contacts_sync_last_success_timestamp_seconds",
      help: "When the last complete pass of this kind finished (any replica; from the checkpoint table), Unix time.",
      labelNames: ["kind"],
      registers,
    });
    this.remapped = new Counter({
      name: "contacts_sync_remapped_total",
      help: "Rows re-derived from raw by a newer mapping, by result (changed: a typed column changed; unchanged).",
      labelNames: ["result"],
      registers,
    });
    this.remapped.inc({ result: "changed" }, 0);
    this.remapped.inc({ result: "unchanged" }, 0);
    this.remapRemaining = new Gauge({
      name: "contacts_sync_remap_remaining",
      help: "Rows of the account an older mapping wrote, still to re-derive (after the last slice).",
      registers,
    });
    const self = this;
    this.checkpointLag = new Gauge({
      name: "contacts_sync_checkpoint_lag_seconds",
      help: "Now minus the incremental checkpoint: how far behind the API the mirror is known complete (lastSeenAt).",
      registers,
      collect() {
        const until = self.syncedUntil ?? options.startAt;
        this.set(Math.max(0, (now() - until.getTime()) / 1000));
      },
    });
    this.clockSkew = new Gauge({
      name: "contacts_sync_api_clock_skew_seconds",
      help: "The API's clock minus this process's, as the last pass measured it from the API's Date headers (windows are planned on the API's clock).",
      registers,
    });
    for (const kind of KINDS) {
      for (const outcome of OUTCOMES) this.runs.inc({ kind, outcome }, 0);
      for (const result of RESULTS) this.contacts.inc({ kind, result }, 0);
      this.pages.inc({ kind }, 0);
      this.received.inc({ kind }, 0);
      this.runInProgress.set({ kind }, 0);
      this.consecutiveFailures.set({ kind }, 0);
    }
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  /** What the checkpoint table says (after each pass, and at start). */
  observeCheckpoint(kind: PassKind, checkpoint: { syncedUntil: Date | null; lastCompletedAt: Date | null }): void {
    if (kind === "incremental") this.syncedUntil = checkpoint.syncedUntil;
    if (checkpoint.lastCompletedAt) this.lastSuccess.set({ kind }, checkpoint.lastCompletedAt.getTime() / 1000);
  }

  /** What a pass measured of the API's clock (ms; null: no Date header seen). */
  observeClockSkew(skewMs: number | null): void {
    if (skewMs !== null) this.clockSkew.set(skewMs / 1000);
  }

  /** Counts one pass's figures as they grow (call with its cumulative counters; only the growth is added). */
  tally(kind: PassKind): (counters: RunCounters) => void {
    const seen: Record<string, number> = {};
    return (counters) => {
      const grow = (field: keyof RunCounters) => {
        const delta = counters[field] - (seen[field] ?? 0);
        seen[field] = counters[field];
        return delta > 0 ? delta : 0;
      };
      this.pages.inc({ kind }, grow("pages"));
      this.received.inc({ kind }, grow("received"));
      for (const result of RESULTS) this.contacts.inc({ kind, result }, grow(result));
    };
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
