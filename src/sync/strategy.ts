// Which strategy a pass reads the API with: what `check` measured and stored for the account, measured
// again when nothing is stored, when it is older than CHECK_MAX_AGE, or when a page contradicts it.
// When the measurement says the API cannot be mirrored safely, the pass stops before it writes anything.
import { ContractError } from "../errors.js";
import type { InboxClient } from "../api/client.js";
import type { Database } from "../db/client.js";
import type { Logger } from "../log.js";
import { loadProfile, saveProfile } from "../db/sql/apiProfiles.js";
import { probeApi } from "../probe/probe.js";
import { describeOrder, planStrategy, type ApiProfile, type Strategy } from "../probe/profile.js";

/** A stored measurement older than this is measured again before a pass (CHECK_MAX_AGE). */
export const DEFAULT_PROFILE_MAX_AGE_MS = 7 * 24 * 3_600_000;

export interface ResolvedStrategy {
  strategy: Strategy;
  /** given: by the caller (tests, benchmark); stored: measured earlier; measured: by this pass. */
  source: "given" | "stored" | "measured";
  profile: ApiProfile | null;
}

export interface StrategyInputs {
  db: Database;
  client: InboxClient;
  account: string;
  filters: Record<string, unknown>;
  logger: Logger;
  signal?: AbortSignal | undefined;
  maxAgeMs: number;
  now: Date;
}

export async function resolveStrategy(inputs: StrategyInputs, options: { remeasure?: boolean } = {}): Promise<ResolvedStrategy> {
  const { db, client, account, filters, logger } = inputs;
  if (!options.remeasure) {
    const stored = await loadProfile(db.prisma, account);
    // A stored "not safe" is measured again: it may have been a passing state (a bulk import on page 1, a burst).
    if (stored && stored.ok && inputs.now.getTime() - stored.measuredAt.getTime() <= inputs.maxAgeMs) {
      return { strategy: mustPlan(stored.profile, filters, "stored"), source: "stored", profile: stored.profile };
    }
    logger.info(
      stored ? { measuredAt: stored.measuredAt } : {},
      !stored ? "first run against this API: measuring what it does (as `check` does)"
        : !stored.ok ? "the stored measurement said the API cannot be mirrored safely: measuring it again"
        : "the stored measurement of the API is older than CHECK_MAX_AGE: measuring it again",
    );
  } else {
    logger.warn("a page contradicted what was measured of the API: measuring it again");
  }
  const profile = await probeApi(client, { logger, filters, ...(inputs.signal ? { signal: inputs.signal } : {}) });
  const plan = planStrategy(profile, filters);
  await saveProfile(db.prisma, account, profile, plan);
  return { strategy: mustPlan(profile, filters, "measured"), source: "measured", profile };
}

function mustPlan(profile: ApiProfile, filters: Record<string, unknown>, source: string): Strategy {
  const plan = planStrategy(profile, filters);
  if (plan.ok) return plan.strategy;
  throw new ContractError(
    `The inbox API cannot be mirrored safely (${source === "stored" ? `as measured ${profile.measuredAt}` : "as just measured"}; order ${describeOrder(profile.order)}): ` +
      `${plan.reasons.join(" ")} Nothing was written. \`contacts-sync check\` shows the whole measurement.`,
  );
}

/** The documented guess, exactly as the sync read before it measured anything: for callers that know the API. */
export function guessedStrategy(overrides: Partial<Strategy> = {}): Strategy {
  return {
    order: { field: "createdAt", direction: "desc" },
    quantumMs: 1,
    bothBounds: false,
    endOnEmptyPage: false,
    unstableTies: false,
    clockSkewMs: 0,
    decisions: ["seek on createdAt desc"],
    ...overrides,
  };
}
