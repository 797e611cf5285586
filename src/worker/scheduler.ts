// When passes run: node-cron ticks (SYNC_CRON, RECONCILE_CRON, in TZ) feed one serial queue, so passes in
// this process run one at a time: a pass never overlaps itself, and a reconcile and an incremental never run
// at once (other processes are kept out by the account lock in PostgreSQL). A tick for a pass that is already
// running or queued is dropped ("busy"); after repeated failures, ticks are skipped ("backoff", backoff.ts).
import cron, { type ScheduledTask } from "node-cron";
import type { Logger } from "../log.js";
import type { Outcome, PassKind, SkipReason } from "../metrics.js";
import { formatDuration } from "../durations.js";
import { Backoff, DEFAULT_BACKOFF_MAX_MS } from "./backoff.js";

export interface SchedulerOptions {
  syncCron: string;
  reconcileCron: string;
  timezone: string;
  logger: Logger;
  /** Runs one pass; resolves with its outcome (it logs the details itself). */
  run: (kind: PassKind) => Promise<Outcome>;
  backoffMaxMs?: number;
  onSkip?: (kind: PassKind, reason: SkipReason) => void;
  /** Told after every pass how many have failed in a row (metrics). */
  onFailures?: (kind: PassKind, failures: number) => void;
  now?: () => number;
}

export interface PassState {
  consecutiveFailures: number;
  ticksToSkip: number;
  lastOutcome: Outcome | null;
  lastFinishedAt: string | null;
}

export class Scheduler {
  private readonly queue: PassKind[] = [];
  private running: PassKind | undefined;
  private drained: Promise<void> = Promise.resolve();
  private stopped = false;
  private tasks: ScheduledTask[] = [];
  private readonly backoff: Record<PassKind, Backoff>;
  private readonly state: Record<PassKind, PassState>;
  private readonly now: () => number;

  constructor(private readonly options: SchedulerOptions) {
    this.now = options.now ?? Date.now;
    this.backoff = { incremental: new Backoff(options.backoffMaxMs), reconcile: new Backoff(options.backoffMaxMs) };
    const fresh = (): PassState => ({ consecutiveFailures: 0, ticksToSkip: 0, lastOutcome: null, lastFinishedAt: null });
    this.state = { incremental: fresh(), reconcile: fresh() };
  }

  /** Starts the cron ticks and queues one incremental pass at once. */
  start(): void {
    const { logger, timezone } = this.options;
    // node-cron's own messages (e.g. a tick missed while the event loop was blocked) go to our log.
    const cronLogger = {
      info: (message: string) => logger.debug({ component: "cron" }, message),
      warn: (message: string) => logger.warn({ component: "cron" }, message),
      error: (message: string | Error) => logger.error({ component: "cron", err: message }, "scheduler error"),
      debug: (message: string | Error) => logger.debug({ component: "cron" }, String(message)),
    };
    this.tasks = [
      cron.createTask(this.options.syncCron, () => this.tick("incremental"), { timezone, name: "incremental", logger: cronLogger }),
      cron.createTask(this.options.reconcileCron, () => this.tick("reconcile"), { timezone, name: "reconcile", logger: cronLogger }),
    ];
    for (const task of this.tasks) void task.start();
    this.enqueue("incremental");
  }

  /** A scheduled tick: queued unless busy or backing off. */
  tick(kind: PassKind): void {
    if (this.stopped) return;
    if (this.running === kind || this.queue.includes(kind)) {
      this.options.logger.debug({ kind }, "scheduled tick skipped: this pass is still running or queued");
      this.options.onSkip?.(kind, "busy");
      return;
    }
    if (!this.backoff[kind].shouldRun(this.now())) {
      this.state[kind].ticksToSkip = this.backoff[kind].remaining;
      this.options.logger.debug({ kind, failures: this.backoff[kind].failures }, "scheduled tick skipped: backing off after repeated failures");
      this.options.onSkip?.(kind, "backoff");
      return;
    }
    this.enqueue(kind);
  }

  /** Stops the ticks, drops what is queued and waits for the pass under way (which the caller has asked to stop). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.queue.length = 0;
    for (const task of this.tasks) await task.destroy();
    await this.drained;
  }

  status(): { running: PassKind | null; queued: PassKind[]; passes: Record<PassKind, PassState> } {
    return { running: this.running ?? null, queued: [...this.queue], passes: { incremental: { ...this.state.incremental }, reconcile: { ...this.state.reconcile } } };
  }

  private enqueue(kind: PassKind): void {
    if (this.stopped) return;
    this.queue.push(kind);
    if (this.running === undefined && this.queue.length === 1) this.drained = this.drain();
  }

  private async drain(): Promise<void> {
    while (!this.stopped && this.queue.length > 0) {
      const kind = this.queue.shift()!;
      this.running = kind;
      let outcome: Outcome;
      try {
        outcome = await this.options.run(kind);
      } catch (error) {
        // run() reports its own failures; this is a bug in the worker, still never a reason to stop ticking.
        this.options.logger.error({ kind, err: error }, "unexpected error around a pass; it counts as failed");
        outcome = "failed";
      } finally {
        this.running = undefined;
      }
      this.settle(kind, outcome);
    }
  }

  private settle(kind: PassKind, outcome: Outcome): void {
    const backoff = this.backoff[kind];
    if (outcome === "failed") backoff.recordFailure(this.now());
    else if (outcome === "succeeded") backoff.recordSuccess();
    const state = this.state[kind];
    state.lastOutcome = outcome;
    state.lastFinishedAt = new Date(this.now()).toISOString();
    state.consecutiveFailures = backoff.failures;
    state.ticksToSkip = backoff.remaining;
    this.options.onFailures?.(kind, backoff.failures);
    if (outcome === "failed" && !this.stopped) {
      const skip = backoff.remaining;
      this.options.logger.warn(
        { kind, consecutiveFailures: backoff.failures, ticksToSkip: skip },
        skip === 0
          ? `${kind} pass failed; it runs again at the next tick`
          : `${kind} pass failed ${backoff.failures} times in a row; backing off: the next ${skip} tick(s) are skipped (never more than ${formatDuration(this.options.backoffMaxMs ?? DEFAULT_BACKOFF_MAX_MS)} without an attempt)`,
      );
    }
  }
}
