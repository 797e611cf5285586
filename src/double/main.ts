// Runs the API double on its own: `node dist/double/main.js --contacts 10000 --token demo` (or through the
// CLI's sub-command, which calls `main`). Prints one line with the URL, then serves until SIGTERM/SIGINT.
import { realpathSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { randomBytes } from "node:crypto";
import { startApiDouble, type ApiBehaviour, type ApiDouble } from "./server.js";
import { parseOrder, parsePrecision, parseRateLimit, parseSignedDuration } from "./behaviour.js";

import { DEFAULT_ANCHOR, DOUBLE_OPTIONS, USAGE, DoubleUsageError, negativeValues } from "./options.js";

export { DEFAULT_ANCHOR, DOUBLE_OPTIONS, USAGE, DoubleUsageError, negativeValues };

function number(flags: Record<string, unknown>, name: string, fallback: number, check: (n: number) => boolean, rule: string): number {
  const raw = flags[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (raw === "" || !Number.isFinite(n) || !check(n)) throw new DoubleUsageError(`api-double: --${name} must be ${rule}, got "${String(raw)}" (see --help)`);
  return n;
}

const whole = (n: number) => Number.isInteger(n) && n >= 0;

function parsed<T>(flags: Record<string, unknown>, name: string, parse: (text: string) => T | undefined, rule: string): T | undefined {
  const raw = flags[name];
  if (raw === undefined) return undefined;
  const value = parse(String(raw));
  if (value === undefined) throw new DoubleUsageError(`api-double: --${name} must be ${rule}, got "${String(raw)}" (see --help)`);
  return value;
}

/** The behaviour flags; only the ones given appear in the result. */
function parseBehaviour(flags: Record<string, unknown>): ApiBehaviour {
  const b: ApiBehaviour = {};
  const skew = parsed(flags, "clock-skew", parseSignedDuration, "a duration such as 15m, -15m, 90s or 500ms");
  if (skew !== undefined) b.clockSkewMs = skew;
  const order = parsed(flags, "order", parseOrder, 'createdAt or lastSeenAt, optionally with asc or desc (e.g. "lastSeenAt asc", createdAt-asc)');
  if (order !== undefined) b.order = order;
  if (flags["unstable-ties"] === true) b.unstableTies = true;
  if (flags["post-filter"] === true) b.postFilter = true;
  if (flags["both-bounds-required"] === true) b.bothBoundsRequired = true;
  const precision = parsed(flags, "bound-precision", parsePrecision, "a positive precision such as 1s, 1d or 1000 (ms)");
  if (precision !== undefined) b.boundPrecisionMs = precision;
  if (flags["exclusive-bounds"] === true) b.boundsInclusive = false;
  if (flags["unlisted-filters-applied"] === true) b.unlistedFiltersApplied = true;
  const rate = parsed(flags, "rate-limit", parseRateLimit, "requests/window with an optional :date or :seconds, e.g. 60/1m or 60/1m:date");
  if (rate !== undefined) b.rateLimit = rate;
  return b;
}

/**
 * Starts the double from command-line arguments and stops it on SIGTERM/SIGINT. Resolves to the running
 * double, or undefined for --help; throws DoubleUsageError on bad arguments.
 */
export async function main(argv: string[] = process.argv.slice(2)): Promise<ApiDouble | undefined> {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args: negativeValues(argv), strict: true, allowPositionals: false, options: DOUBLE_OPTIONS }).values;
  } catch (error) {
    throw new DoubleUsageError(`api-double: ${(error as Error).message.split("\n")[0]} (see --help)`);
  }
  if (values.help) {
    console.log(USAGE);
    return undefined;
  }
  return serveFromOptions(values);
}

/** Starts the double from parsed options (the CLI's `api-double` parses them from the same table). */
export async function serveFromOptions(values: Record<string, string | boolean | undefined>): Promise<ApiDouble> {
  const given = typeof values.token === "string" ? values.token : process.env.INBOX_API_TOKEN;
  const token = given || randomBytes(16).toString("hex");
  const port = number(values, "port", 0, (n) => whole(n) && n <= 65535, "a port number (0-65535)");
  const contacts = number(values, "contacts", 1000, whole, "a whole number");
  const pageSize = number(values, "page-size", 50, (n) => whole(n) && n > 0, "a positive whole number");
  const latencyMs = number(values, "latency-ms", 0, (n) => n >= 0, "a number of milliseconds >= 0");
  const faultRate = number(values, "fault-rate", 0, (n) => n >= 0 && n <= 1, "between 0 and 1");
  const seed = number(values, "seed", 1, Number.isInteger, "an integer");
  const mutateEveryMs = number(values, "mutate-every-ms", 0, (n) => n >= 0, "a number of milliseconds >= 0");
  const anchorText = typeof values.anchor === "string" ? values.anchor : DEFAULT_ANCHOR;
  const anchor = Date.parse(anchorText);
  if (!/^\d{4}-\d{2}-\d{2}/.test(anchorText) || Number.isNaN(anchor)) throw new DoubleUsageError(`api-double: --anchor must be an ISO date such as 2026-01-01, got "${anchorText}" (see --help)`);
  const lastSeenTies = values["last-seen-ties"] === undefined ? undefined : number(values, "last-seen-ties", 0, whole, "a whole number");
  const behaviour = parseBehaviour(values);

  let double: ApiDouble;
  try {
    double = await startApiDouble({
      token,
      port,
      host: typeof values.host === "string" ? values.host : "127.0.0.1",
      contacts,
      pageSize,
      latencyMs,
      seed,
      anchor,
      faults: faultRate > 0 ? { rate: faultRate } : undefined,
      control: values.control === true,
      behaviour,
      lastSeenTies,
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === "EADDRINUSE" ? `port ${port} is in use (choose another with --port, or 0 for any free port)` : (error as Error).message;
    throw new DoubleUsageError(`api-double: cannot start: ${reason}`);
  }
  if (mutateEveryMs > 0) double.startMutations({ everyMs: mutateEveryMs, see: 3, create: 1, editSilently: 1, delete: 1 });
  console.log(
    `api double listening on ${double.url} with ${contacts} contacts (seed ${seed}); to sync from it, set:\n` +
      `  INBOX_API_URL=${double.url}\n  INBOX_API_TOKEN=${given ? "(the token you gave)" : token}`,
  );
  // The reality being played (when it is not the documented guess) goes to stderr.
  if (Object.keys(behaviour).length > 0) console.error(`api double behaviour: ${JSON.stringify(behaviour)}`);

  const stop = () => {
    process.off("SIGTERM", stop);
    process.off("SIGINT", stop);
    double.close().then(
      // Let the event loop drain; exit anyway if something else keeps the process alive.
      () => void setTimeout(() => process.exit(0), 1000).unref(),
      (error: unknown) => {
        console.error(`api double: closing failed: ${error instanceof Error ? error.message : String(error)}`);
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  // Closing the double from code (a caller that runs it in-process) also lets go of the signals.
  const close = double.close.bind(double);
  double.close = () => {
    process.off("SIGTERM", stop);
    process.off("SIGINT", stop);
    return close();
  };
  return double;
}

function runDirectly(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(entry)).href;
  } catch {
    return false;
  }
}

if (runDirectly()) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(error instanceof DoubleUsageError ? 2 : 1);
  });
}
