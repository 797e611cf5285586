// `contacts-sync worker` with ACCOUNTS_FILE: one process serves every account of the file.
//
// When: each account's sync_cron and reconcile_cron (default SYNC_CRON, RECONCILE_CRON) make its passes due;
// one node-cron task per distinct expression. At every tick of SYNC_CRON the file is read again first, so an
// account added, removed or given a new token (or URL, filters, crons) is served from that tick on, without a
// restart; a file that has become invalid is logged and the accounts as last read are kept.
//
// How many: due passes wait in one FIFO queue (an account that just ran goes to the back: no account starves)
// and run at most SYNC_ACCOUNTS_CONCURRENCY at once, one at a time per account. Their requests draw on one
// budget per API host (INBOX_HOST_CONCURRENCY, src/api/hostGate.ts): a 429 for one account slows the host for all.
//
// Replicas: each pass takes its account's session advisory lock WITHOUT waiting; an account another replica
// is syncing is skipped ("elsewhere") and the replica moves on to the next one due. The lock dies with its
// connection, so the accounts of a replica that dies are taken by another at its next tick. PostgreSQL is the
// only coordination: no membership, no leader.
import cron, { type ScheduledTask } from "node-cron";
import { loadAccounts, selectAccounts, type AccountConfig } from "../accounts.js";
import type { ClientOptions } from "../api/client.js";
import { HostGates } from "../api/hostGate.js";
import type { App } from "../app.js";
import type { Config } from "../config.js";
import { formatDuration } from "../durations.js";
import { ReadinessProbe } from "../http/readiness.js";
import { startHttpServer, type HttpServer } from "../http/server.js";
import { registerSecret, scrub, type Logger } from "../log.js";
import { SyncMetrics, type PassKind } from "../metrics.js";
import { onShutdown } from "../signals.js";
import { AggregatorRegistry, Gauge, Registry, collectDefaultMetrics } from "prom-client";
import { Backoff, DEFAULT_BACKOFF_MAX_MS } from "./backoff.js";
import { PassRunner, type PassOutcome } from "./passRunner.js";
import { openWithRetry, type Worker } from "./worker.js";

export interface FleetOptions {
  /** --account: serve only this account of the file. */
  only?: string;
  signal?: AbortSignal;
  clientOptions?: Partial<ClientOptions>;
  backoffMaxMs?: number;
  openRetryMs?: [number, number];
  env?: NodeJS.ProcessEnv;
}

interface Slot {
  name: string;
  config: AccountConfig;
  logger: Logger;
  metrics: SyncMetrics;
  runner: PassRunner;
  backoff: Record<PassKind, Backoff>;
  running: PassKind | undefined;
  queued: Set<PassKind>;
  /** When this process first served it (a new account's first pass has READY_MAX_AGE to complete). */
  since: number;
  removed: boolean;
}

export async function runFleet(config: Config, logger: Logger, options: FleetOptions = {}): Promise<number> {
  const shutdown = new AbortController();
  const unsubscribe = onShutdown(logger, () => shutdown.abort(), { graceMs: config.shutdownGraceMs });
  try {
    const fleet = await startFleet(config, logger, { ...options, signal: shutdown.signal });
    await fleet.done;
    return 0;
  } finally {
    unsubscribe();
  }
}

export async function startFleet(base: Config, logger: Logger, options: FleetOptions = {}): Promise<Worker> {
  const env = options.env ?? process.env;
  const shutdown = new AbortController();
  options.signal?.addEventListener("abort", () => shutdown.abort(), { once: true });
  if (options.signal?.aborted) shutdown.abort();
  // Checked before anything starts (the CLI did too): a bad file at start is a usage error.
  const first = selectAccounts(loadAccounts(base, env, { needToken: true }), options.only, base.accountsFile);

  const gates = new HostGates(base.hostConcurrency);
  const slots = new Map<string, Slot>();
  const queue: { slot: Slot; kind: PassKind }[] = [];
  const running = new Set<Promise<void>>();
  const tasks = new Map<string, ScheduledTask>();
  const startedAt = Date.now();
  let phase: "starting" | "running" | "stopping" = "starting";
  let app: App | undefined;
  let probe: ReadinessProbe | undefined;
  let fileOk = true;

  // Process-wide series (no account label): the process, the fleet, each API host's budget.
  const own = new Registry();
  collectDefaultMetrics({ register: own });
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({ name, help, registers: [own], collect() { this.set(read()); } });
  gauge("contacts_sync_accounts", "Accounts this process serves (ACCOUNTS_FILE, as last read).", () => slots.size);
  gauge("contacts_sync_accounts_file_ok", "1 when ACCOUNTS_FILE was read without a problem at the last tick; 0: the accounts as last read are served (see the log).", () => (fileOk ? 1 : 0));
  gauge("contacts_sync_passes_running", "Passes running now in this process (at most SYNC_ACCOUNTS_CONCURRENCY).", () => running.size);
  gauge("contacts_sync_passes_queued", "Passes due and waiting for a free slot in this process.", () => queue.length);
  const hostGauge = (name: string, help: string, field: "inFlight" | "limit" | "peak") =>
    new Gauge({ name, help, labelNames: ["host"], registers: [own], collect() { for (const h of gates.stats()) this.set({ host: h.host }, h[field]); } });
  hostGauge("contacts_sync_host_requests_in_flight", "Requests in flight to this API host now, all accounts together.", "inFlight");
  hostGauge("contacts_sync_host_request_budget", "Requests allowed in flight to this API host now: INBOX_HOST_CONCURRENCY, halved by each 429, raised again by clean answers.", "limit");
  hostGauge("contacts_sync_host_requests_in_flight_peak", "Most requests ever in flight to this API host at once (never above INBOX_HOST_CONCURRENCY).", "peak");

  const limit = base.accountsConcurrency;
  // node-cron's own messages (e.g. a tick missed while the event loop was blocked) go to our log.
  const cronLogger = {
    info: (message: string) => logger.debug({ component: "cron" }, message),
    warn: (message: string) => logger.warn({ component: "cron" }, message),
    error: (message: string | Error) => logger.error({ component: "cron", err: message }, "scheduler error"),
    debug: (message: string | Error) => logger.debug({ component: "cron" }, String(message)),
  };
  const backoffMax = options.backoffMaxMs ?? DEFAULT_BACKOFF_MAX_MS;

  const addSlot = (config: AccountConfig): Slot => {
    const name = config.account;
    const slotLogger = logger.child({ account: name });
    const metrics = new SyncMetrics({ startAt: config.startAt, defaultMetrics: false, account: name });
    registerSecret(config.token);
    const runner = new PassRunner({
      config, db: app!.db, logger: slotLogger, metrics, signal: shutdown.signal, lockWait: false,
      clientOptions: { ...options.clientOptions, gate: gates.gate(config.apiUrl, name) },
    });
    const slot: Slot = {
      name, config, logger: slotLogger, metrics, runner, running: undefined, queued: new Set(), since: Date.now(), removed: false,
      backoff: { incremental: new Backoff(backoffMax), reconcile: new Backoff(backoffMax) },
    };
    slots.set(name, slot);
    return slot;
  };

  /** Reads ACCOUNTS_FILE again and applies the difference; returns the accounts new since the last read. */
  const reload = (accounts?: AccountConfig[]): Slot[] => {
    let list = accounts;
    if (!list) {
      try {
        list = selectAccounts(loadAccounts(base, env, { needToken: true }), options.only, base.accountsFile);
        if (!fileOk) logger.info("ACCOUNTS_FILE is valid again");
        fileOk = true;
      } catch (error) {
        if (fileOk) logger.error({ error: scrub(error instanceof Error ? error.message : String(error)) }, "ACCOUNTS_FILE cannot be used as it is now; the accounts as last read are served until it is fixed");
        fileOk = false;
        return [];
      }
    }
    const added: Slot[] = [];
    const names = new Set(list.map((a) => a.account));
    for (const slot of slots.values()) {
      if (names.has(slot.name)) continue;
      slot.removed = true;
      slots.delete(slot.name);
      for (let i = queue.length - 1; i >= 0; i -= 1) if (queue[i]!.slot === slot) queue.splice(i, 1);
      if (!slot.running) void slot.runner.close();
      logger.info({ account: slot.name }, "account removed from ACCOUNTS_FILE: no longer served (its rows stay)");
    }
    for (const config of list) {
      const slot = slots.get(config.account);
      if (!slot) {
        added.push(addSlot(config));
        if (accounts === undefined) logger.info({ account: config.account }, "account added to ACCOUNTS_FILE: served from now on");
        continue;
      }
      if (config.token !== slot.config.token) slot.logger.info("the account's token changed; using it from its next pass on");
      slot.runner.update(config);
      slot.config = config;
    }
    syncTasks();
    return added;
  };

  const syncTasks = () => {
    const wanted = new Set([base.syncCron]);
    for (const slot of slots.values()) wanted.add(slot.config.syncCron).add(slot.config.reconcileCron);
    for (const [expr, task] of tasks) {
      if (wanted.has(expr)) continue;
      void task.destroy();
      tasks.delete(expr);
    }
    for (const expr of wanted) {
      if (tasks.has(expr) || phase === "stopping") continue;
      const task = cron.createTask(expr, () => onTick(expr), { timezone: base.timezone, name: `accounts ${expr}`, logger: cronLogger });
      tasks.set(expr, task);
      if (phase === "running") void task.start();
    }
  };

  const onTick = (expr: string) => {
    if (phase !== "running") return;
    // An account new in the file gets its first pass now (below, if its own sync_cron is this one).
    if (expr === base.syncCron) for (const slot of reload()) if (slot.config.syncCron !== expr) due(slot, "incremental");
    for (const slot of slots.values()) {
      if (slot.config.syncCron === expr) due(slot, "incremental");
      if (slot.config.reconcileCron === expr) due(slot, "reconcile");
    }
  };

  const due = (slot: Slot, kind: PassKind) => {
    if (phase !== "running" || slot.removed) return;
    if (slot.running === kind || slot.queued.has(kind)) {
      slot.metrics.ticksSkipped.inc({ kind, reason: "busy" });
      return;
    }
    if (!slot.backoff[kind].shouldRun(Date.now())) {
      slot.logger.debug({ kind, failures: slot.backoff[kind].failures }, "scheduled tick skipped: backing off after repeated failures");
      slot.metrics.ticksSkipped.inc({ kind, reason: "backoff" });
      return;
    }
    slot.queued.add(kind);
    queue.push({ slot, kind });
    pump();
  };

  const pump = () => {
    while (phase === "running" && running.size < limit) {
      // The first due pass whose account is not running here already (one pass per account at a time).
      const at = queue.findIndex((item) => item.slot.running === undefined);
      if (at < 0) return;
      const [{ slot, kind }] = queue.splice(at, 1) as [{ slot: Slot; kind: PassKind }];
      slot.queued.delete(kind);
      slot.running = kind;
      const pass = (async () => {
        let outcome: PassOutcome;
        try {
          outcome = await slot.runner.run(kind);
        } catch (error) {
          slot.logger.error({ kind, err: error }, "unexpected error around a pass; it counts as failed");
          outcome = "failed";
        }
        settle(slot, kind, outcome);
      })().finally(() => {
        slot.running = undefined;
        running.delete(pass);
        if (slot.removed) void slot.runner.close();
        pump();
      });
      running.add(pass);
    }
  };

  const settle = (slot: Slot, kind: PassKind, outcome: PassOutcome) => {
    if (outcome === "busy") {
      slot.logger.debug({ kind }, "another replica is syncing this account; moving on to the next account due");
      return;
    }
    const backoff = slot.backoff[kind];
    if (outcome === "failed") backoff.recordFailure(Date.now());
    else if (outcome === "succeeded") backoff.recordSuccess();
    slot.metrics.consecutiveFailures.set({ kind }, backoff.failures);
    if (outcome === "failed" && phase === "running") {
      const skip = backoff.remaining;
      slot.logger.warn(
        { kind, consecutiveFailures: backoff.failures, ticksToSkip: skip },
        skip === 0
          ? `${kind} pass failed; it runs again at the next tick`
          : `${kind} pass failed ${backoff.failures} times in a row; backing off: the next ${skip} tick(s) are skipped (never more than ${formatDuration(backoffMax)} without an attempt)`,
      );
    }
  };

  let http: HttpServer | undefined;
  if (base.httpPort !== 0) {
    http = await startHttpServer(
      base.httpPort,
      {
        health: () => ({
          phase,
          accounts: slots.size,
          accountsFileOk: fileOk,
          uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
          running: [...slots.values()].filter((s) => s.running).map((s) => ({ account: s.name, kind: s.running })),
          queued: queue.length,
          hosts: gates.stats(),
        }),
        readiness: async () =>
          phase === "running" && probe
            ? { ...(await probe.checkAccounts([...slots.values()].map((s) => ({ name: s.name, since: s.since })))) }
            : { ready: false, phase },
        metrics: async () => {
          const registries = [own, ...[...slots.values()].map((s) => s.metrics.registry)];
          const merged = AggregatorRegistry.aggregate(await Promise.all(registries.map((r) => r.getMetricsAsJSON())));
          return { contentType: own.contentType, body: await merged.metrics() };
        },
      },
      logger,
    );
  }

  let markStarted!: () => void;
  const started = new Promise<void>((resolve) => (markStarted = resolve));
  const stopRequested = new Promise<void>((resolve) => shutdown.signal.addEventListener("abort", () => resolve(), { once: true }));
  if (shutdown.signal.aborted) markStarted();
  // The worker's own interface (metrics of the first account, for tests that read it in-process).
  let firstMetrics: SyncMetrics | undefined;

  const done = (async () => {
    try {
      app = await openWithRetry(base, logger, shutdown.signal, options.openRetryMs ?? [1000, 30_000]);
      if (!app) return;
      probe = new ReadinessProbe(app.db.url, "", base.readyMaxAgeMs, undefined, app.db.schema);
      const initial = reload(first);
      firstMetrics = initial[0]?.metrics;
      await Promise.all(initial.map((s) => s.runner.refreshCheckpoints()));
      if (!shutdown.signal.aborted) {
        phase = "running";
        for (const task of tasks.values()) void task.start();
        logger.info(
          { accounts: slots.size, accountsConcurrency: limit, hostConcurrency: base.hostConcurrency, timezone: base.timezone, httpPort: http?.port ?? 0 },
          `worker started for ${slots.size} account(s) of ACCOUNTS_FILE: one incremental pass each now (at most ${limit} at once), then on schedule`,
        );
        for (const slot of initial) due(slot, "incremental");
      }
      markStarted();
      await stopRequested;
    } finally {
      phase = "stopping";
      markStarted();
      queue.length = 0;
      for (const task of tasks.values()) await task.destroy();
      tasks.clear();
      await Promise.all([...running]);
      await Promise.all([...slots.values()].map((s) => s.runner.close()));
      await probe?.close();
      await http?.close();
      await app?.close();
      logger.info("worker stopped");
    }
  })();
  done.catch(() => undefined);

  return {
    port: http?.port,
    get metrics() {
      return firstMetrics ?? new SyncMetrics({ startAt: base.startAt, defaultMetrics: false });
    },
    started,
    done,
    async stop() {
      shutdown.abort();
      await done;
    },
  };
}
