// Graceful shutdown in one place: the first SIGTERM/SIGINT asks the work to stop at the next page
// boundary (what is committed stays committed); a second one exits at once.
import type { Logger } from "./log.js";

export function onShutdown(logger: Logger, stop: () => void): () => void {
  let count = 0;
  const handler = (signal: NodeJS.Signals) => {
    count += 1;
    if (count === 1) {
      logger.warn({ signal }, "stopping: finishing the page in flight; send the signal again to exit at once");
      stop();
    } else {
      logger.error({ signal }, "second signal: exiting now; uncommitted work is rolled back by PostgreSQL");
      process.exit(130);
    }
  };
  process.on("SIGTERM", handler);
  process.on("SIGINT", handler);
  return () => {
    process.off("SIGTERM", handler);
    process.off("SIGINT", handler);
  };
}
