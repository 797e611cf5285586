// Graceful shutdown in one place: the first SIGTERM/SIGINT asks the work to stop at the next page
// boundary (what is committed stays committed); a second one exits at once, and so does the end of the
// grace period if one is given (the worker's SHUTDOWN_GRACE): PostgreSQL rolls back whatever was in flight.
import type { Logger } from "./log.js";

export interface ShutdownOptions {
  /** After the first signal, exit (code 1) if the work has not stopped within this many ms. */
  graceMs?: number;
  /** What the first signal logs (default: about the page in flight, which is what a pass does). */
  message?: string;
}

export function onShutdown(logger: Logger, stop: () => void, options: ShutdownOptions = {}): () => void {
  let count = 0;
  let grace: NodeJS.Timeout | undefined;
  const handler = (signal: NodeJS.Signals) => {
    count += 1;
    if (count === 1) {
      logger.warn(
        { signal, graceMs: options.graceMs },
        options.message ?? "stopping: finishing the page in flight; send the signal again to exit at once",
      );
      if (options.graceMs !== undefined) {
        grace = setTimeout(() => {
          logger.error(
            { graceMs: options.graceMs },
            "did not stop within the grace period (SHUTDOWN_GRACE): exiting now; PostgreSQL rolls back the page in flight and the checkpoint stays at the last committed page",
          );
          process.exit(1);
        }, options.graceMs);
        grace.unref();
      }
      stop();
    } else {
      logger.error({ signal }, "second signal: exiting now; uncommitted work is rolled back by PostgreSQL");
      process.exit(130);
    }
  };
  process.on("SIGTERM", handler);
  process.on("SIGINT", handler);
  return () => {
    clearTimeout(grace);
    process.off("SIGTERM", handler);
    process.off("SIGINT", handler);
  };
}
