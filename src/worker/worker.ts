// `contacts-sync worker`: the long-running mode. Starts the health/metrics listener, opens the database
// (waiting for it if it is not up yet), runs one incremental pass, then passes on SYNC_CRON and
// RECONCILE_CRON (scheduler.ts). Several replicas may run against one database: the account lock taken by
// every pass lets one of them write at a time, and the others wait their turn.
//
// Stopping (SIGTERM/SIGINT, or `stop()`): the pass under way stops at its next page boundary (the page being
// written commits with its checkpoint, the request in flight is dropped), its lock is released, the pool is
// closed, and the process exits 0; signals.ts exits at once on a second signal or after SHUTDOWN_GRACE.
import { setTimeout as sleep } from "node:timers/promises";
import type { ClientOptions } from "../api/client.js";
import { openApp, type App } from "../app.js";
import type { Config } from "../config.js";
import { ReadinessProbe } from "../http/readiness.js";
import { startHttpServer, type HttpServer } from "../http/server.js";
import { scrub, type Logger } from "../log.js";
import { SyncMetrics } from "../metrics.js";
import { onShutdown } from "../signals.js";
import { PassRunner } from "./passRunner.js";
import { Scheduler } from "./scheduler.js";

export interface WorkerOptions {
  /** Aborting it stops the worker (the CLI aborts it on SIGTERM/SIGINT). */
  signal?: AbortSignal;
  /** Inbox client settings (tests shorten the retry back-off). */
  clientOptions?: Partial<ClientOptions>;
  /** Longest back-off after repeated failures (default 1 h). */
  backoffMaxMs?: number;
  /** Wait between attempts to open the database at start: first, and longest (default 1 s, 30 s). */
  openRetryMs?: [number, number];
}

export interface Worker {
  /** The health/metrics port; undefined when HTTP_PORT is 0. */
  port: number | undefined;
  metrics: SyncMetrics;
  /** Resolves once the database is open and the schedule runs. */
  started: Promise<void>;
  /** Resolves once the worker has stopped and released everything. */
  done: Promise<void>;
  stop(): Promise<void>;
}

type Phase = "starting" | "running" | "stopping";

export async function runWorker(config: Config, logger: Logger): Promise<number> {
  const shutdown = new AbortController();
  const unsubscribe = onShutdown(logger, () => shutdown.abort(), { graceMs: config.shutdownGraceMs });
  try {
    const worker = await startWorker(config, logger, { signal: shutdown.signal });
    await worker.done;
    return 0;
  } finally {
    unsubscribe();
  }
}

export async function startWorker(config: Config, logger: Logger, options: WorkerOptions = {}): Promise<Worker> {
  const shutdown = new AbortController();
  options.signal?.addEventListener("abort", () => shutdown.abort(), { once: true });
  if (options.signal?.aborted) shutdown.abort();
  const metrics = new SyncMetrics({ startAt: config.startAt });
  const startedAt = Date.now();
  let phase: Phase = "starting";
  let app: App | undefined;
  let probe: ReadinessProbe | undefined;
  let scheduler: Scheduler | undefined;

  let http: HttpServer | undefined;
  if (config.httpPort !== 0) {
    http = await startHttpServer(
      config.httpPort,
      {
        health: () => ({ phase, account: config.account, uptimeSeconds: Math.round((Date.now() - startedAt) / 1000), ...scheduler?.status() }),
        readiness: async () => (phase === "running" && probe ? { ...(await probe.check()) } : { ready: false, phase }),
        metrics: async () => ({ contentType: metrics.contentType, body: await metrics.text() }),
      },
      logger,
    );
  }

  let markStarted!: () => void;
  const started = new Promise<void>((resolve) => (markStarted = resolve));
  const stopRequested = new Promise<void>((resolve) => shutdown.signal.addEventListener("abort", () => resolve(), { once: true }));
  if (shutdown.signal.aborted) markStarted();

  const done = (async () => {
    let runner: PassRunner | undefined;
    try {
      app = await openWithRetry(config, logger, shutdown.signal, options.openRetryMs ?? [1000, 30_000]);
      if (!app) return;
      probe = new ReadinessProbe(app.db.url, config.account, config.readyMaxAgeMs, undefined, app.db.schema);
      runner = new PassRunner({ config, db: app.db, logger, metrics, signal: shutdown.signal, clientOptions: options.clientOptions });
      await runner.refreshCheckpoints();
      const passes = runner;
      scheduler = new Scheduler({
        syncCron: config.syncCron,
        reconcileCron: config.reconcileCron,
        timezone: config.timezone,
        logger,
        run: (kind) => passes.run(kind).then((o) => (o === "busy" ? "stopped" : o)), // one account waits for its lock: never busy
        backoffMaxMs: options.backoffMaxMs,
        onSkip: (kind, reason) => metrics.ticksSkipped.inc({ kind, reason }),
        onFailures: (kind, failures) => metrics.consecutiveFailures.set({ kind }, failures),
      });
      if (!shutdown.signal.aborted) {
        scheduler.start();
        phase = "running";
        logger.info(
          { account: config.account, syncCron: config.syncCron, reconcileCron: config.reconcileCron, timezone: config.timezone, httpPort: http?.port ?? 0 },
          "worker started: one incremental pass now, then on schedule",
        );
      }
      markStarted();
      await stopRequested;
    } finally {
      phase = "stopping";
      markStarted();
      await scheduler?.stop();
      await runner?.close();
      await probe?.close();
      await http?.close();
      await app?.close();
      logger.info("worker stopped");
    }
  })();
  done.catch(() => undefined);

  return {
    port: http?.port,
    metrics,
    started,
    done,
    async stop() {
      shutdown.abort();
      await done;
    },
  };
}

/**
 * Opens the database, applying migrations. A configured server that is not reachable yet (still starting,
 * failing over) is waited for, with a growing pause, rather than exiting into a restart loop; /healthz answers
 * meanwhile and /readyz says why it is not ready. Without DATABASE_URL (the embedded database) there is
 * nothing to wait for: a failure there is final.
 */
export async function openWithRetry(config: Config, logger: Logger, signal: AbortSignal, [first, longest]: [number, number]): Promise<App | undefined> {
  let wait = first;
  for (let attempt = 1; ; attempt += 1) {
    if (signal.aborted) return undefined;
    try {
      return await openApp(config, logger);
    } catch (error) {
      if (!config.databaseUrl) throw error;
      logger.error({ attempt, retryInMs: wait }, `${scrub(error instanceof Error ? error.message : String(error))} Retrying.`);
    }
    await sleep(wait, undefined, { signal }).catch(() => undefined);
    wait = Math.min(wait * 2, longest);
  }
}
