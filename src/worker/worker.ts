// `contacts-sync worker`: the long-running mode. One incremental pass at start, then SYNC_CRON for
// incremental passes and RECONCILE_CRON for full passes. Passes run one at a time in this process (a
// reconcile and a sync never write at once), and the account lock keeps other replicas out.
import cron from "node-cron";
import type { Config } from "../config.js";
import type { Logger } from "../log.js";
import { openApp, createClient } from "../app.js";
import { onShutdown } from "../signals.js";
import { runIncremental, runReconcile, type SyncContext } from "../sync/runPass.js";

type Job = "incremental" | "reconcile";

export async function runWorker(config: Config, logger: Logger): Promise<number> {
  const app = await openApp(config, logger);
  const client = createClient(config, logger);
  const shutdown = new AbortController();
  const ctx: SyncContext = { db: app.db, client, config, logger, signal: shutdown.signal };
  const queue: Job[] = [];
  let running: Job | undefined;
  let idle: Promise<void> = Promise.resolve();

  const drain = async () => {
    while (queue.length > 0 && !shutdown.signal.aborted) {
      running = queue.shift()!;
      try {
        if (running === "incremental") await runIncremental(ctx);
        else await runReconcile(ctx);
      } catch {
        // Logged by the run itself with its reason; the next tick tries again.
      } finally {
        running = undefined;
      }
    }
  };
  const enqueue = (job: Job) => {
    if (shutdown.signal.aborted || running === job || queue.includes(job)) {
      logger.debug({ job }, "pass already running or queued; this tick is skipped");
      return;
    }
    queue.push(job);
    if (!running && queue.length === 1) idle = drain();
  };

  const tasks = [
    cron.schedule(config.syncCron, () => enqueue("incremental"), { timezone: config.timezone, name: "incremental" }),
    cron.schedule(config.reconcileCron, () => enqueue("reconcile"), { timezone: config.timezone, name: "reconcile" }),
  ];
  logger.info({ syncCron: config.syncCron, reconcileCron: config.reconcileCron, timezone: config.timezone }, "worker started");
  enqueue("incremental");

  await new Promise<void>((resolve) => {
    // The handler stays registered: a second signal exits at once (signals.ts).
    onShutdown(logger, () => resolve());
    shutdown.signal.addEventListener("abort", () => resolve());
  });
  shutdown.abort();
  for (const task of tasks) await task.stop();
  await idle;
  await client.close();
  await app.close();
  logger.info("worker stopped");
  return 0;
}
