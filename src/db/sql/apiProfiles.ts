// The latest API profile of each account (what `check` measured) with the plan derived from it. Saved only
// after a probe completed, unsafe verdicts included, so `status` and the sync can see what was measured and when.
import type { PrismaClient } from "../../generated/prisma/client.js";
import type { ApiProfile, StrategyPlan } from "../../probe/profile.js";

export interface StoredProfile {
  profile: ApiProfile;
  measuredAt: Date;
  /** The plan at the time of the check (`planStrategy` may be re-run on `profile` with today's filters). */
  plan: StrategyPlan | null;
  ok: boolean;
}

export async function saveProfile(db: PrismaClient, account: string, profile: ApiProfile, plan: StrategyPlan): Promise<void> {
  const measuredAt = new Date(profile.measuredAt);
  await db.$executeRaw`
    INSERT INTO api_profiles (account, measured_at, profile, strategy, ok)
    VALUES (${account}, ${measuredAt}, ${JSON.stringify(profile)}::jsonb, ${JSON.stringify(plan)}::jsonb, ${plan.ok})
    ON CONFLICT (account) DO UPDATE SET
      measured_at = EXCLUDED.measured_at, profile = EXCLUDED.profile, strategy = EXCLUDED.strategy, ok = EXCLUDED.ok`;
}

export async function loadProfile(db: PrismaClient, account: string): Promise<StoredProfile | null> {
  const rows = await db.$queryRaw<{ profile: ApiProfile; measured_at: Date; strategy: StrategyPlan | null; ok: boolean }[]>`
    SELECT profile, measured_at, strategy, ok FROM api_profiles WHERE account = ${account}`;
  const row = rows[0];
  return row ? { profile: row.profile, measuredAt: row.measured_at, plan: row.strategy, ok: row.ok } : null;
}
