// `contacts-sync check`: measures what the inbox API does with the user's token and settings (read-only,
// bounded), plans the sync's strategy from it, stores both per account, and says whether the API can be
// mirrored safely. A probe that fails (unreachable, refused token, an answer that is not the API's) stores
// nothing at all: not even the schema is migrated before the probe has completed.
import { createClient } from "../app.js";
import type { Config } from "../config.js";
import type { Database } from "../db/client.js";
import { migrate } from "../db/migrate.js";
import { saveProfile } from "../db/sql/apiProfiles.js";
import { ApiError } from "../errors.js";
import type { Logger } from "../log.js";
import { probeApi, type ProbedProfile } from "../probe/probe.js";
import { describeOrder, formatSkew, planStrategy, type Strategy, type StrategyPlan } from "../probe/profile.js";

export interface CheckContext {
  db: Database;
  config: Config;
  logger: Logger;
  signal?: AbortSignal;
}

/** `--json`'s object: the profile with the order as one string, the verdict, and the strategy or the reasons. */
export interface CheckReport extends Omit<ProbedProfile, "order"> {
  ok: boolean;
  account: string;
  apiUrl: string;
  order: string | null;
  strategy: Strategy | null;
  reasons?: string[];
}

export async function runCheck(ctx: CheckContext): Promise<CheckReport> {
  const { config, logger, db } = ctx;
  const client = createClient(config, logger);
  let profile: ProbedProfile;
  try {
    profile = await probeApi(client, {
      logger,
      filters: config.filters,
      withFilters: (filters) => createClient({ ...config, filters }, logger),
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    });
  } catch (error) {
    if (error instanceof ApiError) {
      throw new ApiError(error.kind, `check could not measure the API at ${config.apiUrl.origin}: ${error.message} Nothing was stored.`, error.details);
    }
    throw error;
  } finally {
    await client.close();
  }
  const plan = withProbeReasons(planStrategy(profile, config.filters), profile);
  await migrate(db.pool, logger);
  await saveProfile(db.prisma, config.account, profile, plan);
  return toReport(profile, plan, config);
}

/**
 * Findings the strategy does not take as input yet: a listed date range that comes back with rows outside
 * it means no window or seek can be trusted. (To move into planStrategy with a profile field.)
 */
function withProbeReasons(plan: StrategyPlan, profile: ProbedProfile): StrategyPlan {
  const ignored = (["createdAt", "lastSeenAt"] as const).filter((f) => profile.dateFiltersHonoured[f] === false);
  if (ignored.length === 0) return plan;
  const reason =
    `The API ignores a listed ${ignored.join(" and ")} range (rows outside it came back), so no window or seek of the sync can ` +
    "be proven complete. Check INBOX_API_URL points at the inbox API itself; otherwise report this to the API's provider.";
  return { ok: false, reasons: [...(plan.ok ? [] : plan.reasons), reason] };
}

function toReport(profile: ProbedProfile, plan: StrategyPlan, config: Config): CheckReport {
  return {
    ok: plan.ok,
    account: config.account,
    apiUrl: config.apiUrl.origin,
    ...profile,
    order: profile.order ? describeOrder(profile.order) : null,
    strategy: plan.ok ? plan.strategy : null,
    ...(plan.ok ? {} : { reasons: plan.reasons }),
  };
}

const yesNo = (v: boolean | null, yes: string, no: string, unknown: string) => (v === null ? unknown : v ? yes : no);

/** One line per finding, then the verdict: fits one screen. */
export function formatCheck(r: CheckReport): string {
  const honoured = (v: boolean | null) => yesNo(v, "honoured", "IGNORED", "not tested");
  const rows: [string, string][] = [
    ["authentication", "ok"],
    ["page size", r.pageSize === null ? "unknown (no page was followed by another)" : String(r.pageSize)],
    ["order", r.order ?? "NONE FOUND"],
    ["short pages", yesNo(r.shortPagesMidList, "YES, mid-list (filtered after paginating)", "none mid-list", "not measurable (too few pages)")],
    ["date filters", `createdAt ${honoured(r.dateFiltersHonoured.createdAt)}, lastSeenAt ${honoured(r.dateFiltersHonoured.lastSeenAt)}`],
    ["one-sided ranges", yesNo(r.bothBoundsRequired, "IGNORED (both bounds required)", "honoured", "not tested")],
    ["bound precision", r.boundPrecisionMs === null ? "not measured" : `${describeMs(r.boundPrecisionMs)}${r.boundsInclusive === null ? "" : r.boundsInclusive ? ", inclusive" : ", exclusive"}`],
    ["tied rows", yesNo(r.stableTies, "stable order", "UNSTABLE order", "no tie group found")],
    ["unlisted filters", yesNo(r.unlistedFiltersApplied, "APPLIED", "not applied", "not measurable")],
    ["clock skew", r.clockSkewMs === null ? "unknown (no Date header)" : `${formatSkew(r.clockSkewMs)} (API minus ours; Date has whole seconds)`],
    ["response time", r.responseMs ? `median ${r.responseMs.median} ms, max ${r.responseMs.max} ms` : "-"],
    ["rate limits", r.rateLimit ? Object.entries(r.rateLimit).map(([k, v]) => `${k} ${v}`).join(", ") : "none sent"],
  ];
  const lines = [
    `check of ${r.apiUrl} for account ${r.account}: ${r.requests} requests, ${r.measuredAt}`,
    ...rows.map(([k, v]) => `  ${k.padEnd(17)} ${v}`),
    ...r.notes.slice(0, 8).map((n) => `  - ${n}`),
    r.ok ? `OK: the sync will ${r.strategy!.decisions.join("; ")}.` : `NOT SAFE: ${r.reasons!.join(" / ")}`,
  ];
  return lines.join("\n");
}

function describeMs(ms: number): string {
  const units: [number, string][] = [[86_400_000, "day"], [3_600_000, "hour"], [60_000, "minute"], [1_000, "second"]];
  for (const [size, name] of units) if (ms >= size && ms % size === 0) return `whole ${name}s` + (ms === size ? "" : ` (${ms} ms)`);
  return `${ms} ms`;
}
