// The API double's command-line options and usage, apart from the double itself: the CLI's command table
// lists them without loading the double's server (src/commands/table.ts imports what a command runs only
// when it runs).

/** Where the generated data set ends unless --anchor says otherwise: fixed, so restarts serve the same ids. */
export const DEFAULT_ANCHOR = "2026-01-01T00:00:00Z";

/** The double's options, in the CLI's command-table format (`contacts-sync api-double --help` lists them). */
export const DOUBLE_OPTIONS = {
  port: { type: "string", value: "<n>", description: "port to listen on (default 0: any free port)" },
  host: { type: "string", value: "<addr>", description: "address to listen on (default 127.0.0.1)" },
  contacts: { type: "string", value: "<n>", description: "size of the generated data set (default 1000)" },
  "page-size": { type: "string", value: "<n>", description: "rows per page, never announced (default 50)" },
  "latency-ms": { type: "string", value: "<n>", description: "delay added to every answer (default 0)" },
  "fault-rate": { type: "string", value: "<0..1>", description: "share of requests answered with a random fault (default 0)" },
  seed: { type: "string", value: "<n>", description: "seed of the generated data and faults (default 1): the same seed, the same contacts, every start" },
  anchor: { type: "string", value: "<ISO date>", description: `the instant the data set ends at (default ${DEFAULT_ANCHOR}); with --seed it fixes every id and date` },
  token: { type: "string", value: "<token>", description: "the accepted bearer token (default: $INBOX_API_TOKEN, else a random one, printed)" },
  "mutate-every-ms": { type: "string", value: "<n>", description: "live changes every n ms: a few contacts seen, created, edited, deleted (default off)" },
  control: { type: "boolean", description: "serve /__control/stats, /mutate and /behaviour (unauthenticated; tests and benchmarks only)" },
  // Play an undocumented reality of the API (default: the documented guess).
  "clock-skew": { type: "string", value: "<d>", description: "the API's clock minus ours, e.g. 15m, -15m, 90s, 500ms (Date header and stamps)" },
  order: { type: "string", value: "<o>", description: 'listing order: createdAt (desc, default), lastSeenAt (desc), createdAt-asc, "lastSeenAt asc"' },
  "unstable-ties": { type: "boolean", description: "rows sharing the sort value come back in a new random order on every request" },
  "post-filter": { type: "boolean", description: "isContact applied after paginating: short (even empty) pages mid-list" },
  "both-bounds-required": { type: "boolean", description: "a date filter applies only when both startAt and endsAt are set" },
  "bound-precision": { type: "string", value: "<p>", description: "bounds floored to this precision before comparing: 1s, 1d, 1000 (ms; default 1)" },
  "exclusive-bounds": { type: "boolean", description: "startAt < v < endsAt instead of <=" },
  "unlisted-filters-applied": { type: "boolean", description: "userInteracted/isOnline/isLiveChatActive applied even when not in applicableFilters" },
  "rate-limit": { type: "string", value: "<n/d[:date]>", description: "n requests per window d (e.g. 60/1m), then 429 with Retry-After in seconds (or a date with :date); X-RateLimit-* headers" },
  "last-seen-ties": { type: "string", value: "<n>", description: "generate a cluster of n contacts sharing one lastSeenAt (default 20 with a lastSeenAt order, else 0)" },
  help: { type: "boolean", short: "h", description: "show this text" },
} as const satisfies Record<string, { type: "string" | "boolean"; short?: string; value?: string; description: string }>;

export const USAGE = `Usage: api-double [options]\n${Object.entries(DOUBLE_OPTIONS)
  .map(([name, o]) => `  ${`--${name}${"value" in o ? ` ${o.value}` : ""}`.padEnd(26)} ${o.description}`)
  .join("\n")}`;

/** A usage error: shown as one line (no stack), exit 2. */
export class DoubleUsageError extends Error {
  override name = "DoubleUsageError";
}

/** `--clock-skew -15m` as `--clock-skew=-15m`: parseArgs refuses a separate value that starts with a dash. */
export function negativeValues(argv: string[]): string[] {
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

