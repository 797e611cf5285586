// Loggers for tests: silent, or capturing every line written (to search them for secrets).
import { Writable } from "node:stream";
import { createLogger, type Logger } from "../../src/log.js";

export function quietLogger(): Logger {
  return createLogger("silent");
}

export function capturingLogger(level = "debug"): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { logger: createLogger(level, stream as unknown as Parameters<typeof createLogger>[1]), lines };
}
