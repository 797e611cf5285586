// Runs the API double on its own: `node dist/double/main.js --contacts 10000 --token demo` (or through the
// CLI's sub-command, which calls `main`). Prints one line with the URL, then serves until SIGTERM/SIGINT.
import { realpathSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { startApiDouble, type ApiBehaviour, type ApiDouble } from "./server.js";
import { parseOrder, parsePrecision, parseRateLimit, parseSignedDuration } from "./behaviour.js";

export const USAGE = `Usage: api-double [options]
  --port <n>             port to listen on (default 0: any free port)
  --host <addr>          address to listen on (default 127.0.0.1)
  --contacts <n>         size of the generated data set (default 1000)
  --page-size <n>        rows per page, never announced (default 50)
  --latency-ms <n>       delay added to every answer (default 0)
  --fault-rate <0..1>    share of requests answered with a random fault (default 0)
  --seed <n>             seed of the generated data and faults (default 1)
  --token <token>        the accepted bearer token (default: $INBOX_API_TOKEN)
  --mutate-every-ms <n>  live changes every n ms: a few contacts seen, created, edited, deleted (default off)
  --control              serve /__control/stats, /mutate and /behaviour (unauthenticated; tests and benchmarks only)
  --help                 show this text

Play an undocumented reality of the API (default: the documented guess):
  --clock-skew <d>       the API's clock minus ours, e.g. 15m, -15m, 90s, 500ms (Date header and stamps)
  --order <o>            listing order: createdAt (desc, default), lastSeenAt (desc), createdAt-asc, "lastSeenAt asc"
  --unstable-ties        rows sharing the sort value come back in a new random order on every request
  --post-filter          isContact applied after paginating: short (even empty) pages mid-list
  --both-bounds-required a date filter applies only when both startAt and endsAt are set
  --bound-precision <p>  bounds floored to this precision before comparing: 1s, 1d, 1000 (ms; default 1)
  --exclusive-bounds     startAt < v < endsAt instead of <=
  --unlisted-filters-applied  userInteracted/isOnline/isLiveChatActive applied even when not in applicableFilters
  --rate-limit <n/d[:date]>   n requests per window d (e.g. 60/1m), then 429 with Retry-After in seconds
                         (or as an HTTP date with :date); X-RateLimit-* headers on every answer
  --last-seen-ties <n>   generate a cluster of n contacts sharing one lastSeenAt (default 20 with a
                         lastSeenAt order, else 0)`;

function number(flags: Record<string, unknown>, name: string, fallback: number, check: (n: number) => boolean, rule: string): number {
  const raw = flags[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (raw === "" || !Number.isFinite(n) || !check(n)) throw new Error(`--${name} must be ${rule}, got "${String(raw)}"\n\n${USAGE}`);
  return n;
}

const whole = (n: number) => Number.isInteger(n) && n >= 0;

function parsed<T>(flags: Record<string, unknown>, name: string, parse: (text: string) => T | undefined, rule: string): T | undefined {
  const raw = flags[name];
  if (raw === undefined) return undefined;
  const value = parse(String(raw));
  if (value === undefined) throw new Error(`--${name} must be ${rule}, got "${String(raw)}"\n\n${USAGE}`);
  return value;
}

/** `--clock-skew -15m` as `--clock-skew=-15m`: parseArgs refuses a separate value that starts with a dash. */
function negativeValues(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const next = argv[i + 1];
    if (argv[i] === "--clock-skew" && next !== undefined && /^-\d/.test(next)) {
      out.push(`--clock-skew=${next}`);
      i++;
    } else out.push(argv[i]!);
  }
  return out;
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
 * double, or undefined for --help; throws on bad arguments (the message includes the usage text).
 */
export async function main(argv: string[] = process.argv.slice(2)): Promise<ApiDouble | undefined> {
  const { values } = parseArgs({
    args: negativeValues(argv),
    strict: true,
    allowPositionals: false,
    options: {
      port: { type: "string" },
      host: { type: "string" },
      contacts: { type: "string" },
      "page-size": { type: "string" },
      "latency-ms": { type: "string" },
      "fault-rate": { type: "string" },
      seed: { type: "string" },
      token: { type: "string" },
      "mutate-every-ms": { type: "string" },
      control: { type: "boolean" },
      "clock-skew": { type: "string" },
      order: { type: "string" },
      "unstable-ties": { type: "boolean" },
      "post-filter": { type: "boolean" },
      "both-bounds-required": { type: "boolean" },
      "bound-precision": { type: "string" },
      "exclusive-bounds": { type: "boolean" },
      "unlisted-filters-applied": { type: "boolean" },
      "rate-limit": { type: "string" },
      "last-seen-ties": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return undefined;
  }
  const token = values.token ?? process.env.INBOX_API_TOKEN;
  if (!token) throw new Error(`No token: pass --token or set INBOX_API_TOKEN (clients must send it as a bearer token).\n\n${USAGE}`);
  const port = number(values, "port", 0, (n) => whole(n) && n <= 65535, "a port number (0-65535)");
  const contacts = number(values, "contacts", 1000, whole, "a whole number");
  const pageSize = number(values, "page-size", 50, (n) => whole(n) && n > 0, "a positive whole number");
  const latencyMs = number(values, "latency-ms", 0, (n) => n >= 0, "a number of milliseconds >= 0");
  const faultRate = number(values, "fault-rate", 0, (n) => n >= 0 && n <= 1, "between 0 and 1");
  const seed = number(values, "seed", 1, Number.isInteger, "an integer");
  const mutateEveryMs = number(values, "mutate-every-ms", 0, (n) => n >= 0, "a number of milliseconds >= 0");
  const lastSeenTies = values["last-seen-ties"] === undefined ? undefined : number(values, "last-seen-ties", 0, whole, "a whole number");
  const behaviour = parseBehaviour(values);

  const double = await startApiDouble({
    token,
    port,
    host: values.host ?? "127.0.0.1",
    contacts,
    pageSize,
    latencyMs,
    seed,
    faults: faultRate > 0 ? { rate: faultRate } : undefined,
    control: values.control === true,
    behaviour,
    lastSeenTies,
  });
  if (mutateEveryMs > 0) double.startMutations({ everyMs: mutateEveryMs, see: 3, create: 1, editSilently: 1, delete: 1 });
  // One line, as before; the reality being played (when it is not the documented guess) goes to stderr.
  console.log(`api double listening on ${double.url} with ${contacts} contacts`);
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
    process.exit(2);
  });
}
