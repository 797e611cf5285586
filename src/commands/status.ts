// `contacts-sync status`: what is mirrored, the checkpoints, the last runs: for every account in the
// database (the demo's included), or one with --account.
import type { Database } from "../db/client.js";
import { readCheckpoint } from "../db/sql/checkpoints.js";
import { pendingMigrations } from "../db/migrate.js";
import { loadProfile } from "../db/sql/apiProfiles.js";
import { describeOrder, formatSkew } from "../probe/profile.js";
import { formatDuration } from "../durations.js";

export interface StatusReport {
  /** Every account with contacts, checkpoints or runs (one with --account), by name. */
  accounts: AccountStatus[];
  pendingMigrations: string[];
  /** With ACCOUNTS_FILE and several accounts: the text shows one line per account (details with --account). */
  brief?: boolean;
  /** The mirror's tables are not in its schema yet (a new database, or one `migrate` has not reached). */
  notInstalled?: boolean;
  /** An earlier release's install sits in `public`; the next `migrate` (or sync, or worker start) moves it. */
  earlierInstallInPublic?: boolean;
}

export interface AccountStatus {
  account: string;
  /** Fresh: the last complete incremental pass is within READY_MAX_AGE (what /readyz asks); stale: older; never: none yet. */
  freshness: { verdict: "fresh" | "stale" | "never"; lastIncrementalAt: string | null; ageSeconds: number | null; maxAgeSeconds: number };
  contacts: { live: number; deleted: number; lastSyncedAt: string | null };
  incremental: { syncedUntil: string | null; windowUnderWay: { from: string | null; to: string | null; cursor: string | null } | null; pageSize: number | null; lastCompletedAt: string | null };
  reconcile: { lastCompletedAt: string | null; passUnderWay: { createdUpTo: string | null; cursor: string | null } | null };
  /** The latest `check` of this account; null: never checked (or its migration is pending). */
  apiProfile: { measuredAt: string; ok: boolean; order: string | null; clockSkewMs: number | null } | null;
  lastRuns: { id: string; kind: string; status: string; startedAt: string; finishedAt: string | null; pages: number; received: number; inserted: number; updated: number; unchanged: number; deleted: number; error: string | null }[];
}

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

/** `names`: the accounts to show (ACCOUNTS_FILE's, already narrowed); default those the database knows. */
export async function statusReport(db: Database, only?: string, options: { maxAgeMs?: number; names?: string[] } = {}): Promise<StatusReport> {
  // Read once: whether api_profiles exists yet decides what every account's status can show.
  const pending = await pendingMigrations(db.pool);
  const { rows: [found] } = await db.pool.query<{ here: boolean; public: boolean }>(
    "select to_regclass('contacts') is not null as here, current_schema() is distinct from 'public' and to_regclass('public.contacts') is not null and to_regclass('public._prisma_migrations') is not null as public",
  );
  if (!found?.here) {
    // Nothing to read yet: say so (and what to run) instead of failing on a missing table.
    return { accounts: [], pendingMigrations: pending, notInstalled: true, ...(found?.public ? { earlierInstallInPublic: true } : {}) };
  }
  const profiles = !pending.includes("20261130100000_api_profiles");
  const names = options.names ?? (only !== undefined ? [only] : await accountNames(db, profiles));
  const accounts: AccountStatus[] = [];
  for (const account of names) accounts.push(await accountStatus(db, account, profiles, options.maxAgeMs ?? 30 * 60_000));
  return { accounts, pendingMigrations: pending, ...(options.names && names.length > 1 ? { brief: true } : {}) };
}

/** Every account the database knows of; one that was only checked so far (api_profiles) too: its measurement is what there is to see. */
async function accountNames(db: Database, profiles: boolean): Promise<string[]> {
  const rows = await db.prisma.$queryRaw<{ account: string }[]>`
    SELECT account FROM contacts GROUP BY account
    UNION SELECT account FROM sync_checkpoints UNION SELECT account FROM sync_runs`;
  const names = new Set(rows.map((r) => r.account));
  if (profiles) {
    for (const r of await db.prisma.$queryRaw<{ account: string }[]>`SELECT account FROM api_profiles`) names.add(r.account);
  }
  return [...names].sort();
}

async function accountStatus(db: Database, account: string, profiles: boolean, maxAgeMs: number): Promise<AccountStatus> {
  const [counts] = await db.prisma.$queryRaw<{ live: number; deleted: number; last: Date | null }[]>`
    SELECT count(*) FILTER (WHERE deleted_at IS NULL)::int AS live, count(*) FILTER (WHERE deleted_at IS NOT NULL)::int AS deleted,
           max(synced_at) AS last
    FROM contacts WHERE account = ${account}`;
  const inc = await readCheckpoint(db.prisma, account, "incremental");
  const rec = await readCheckpoint(db.prisma, account, "reconcile");
  const runs = await db.prisma.syncRun.findMany({ where: { account }, orderBy: { id: "desc" }, take: 10 });
  const stored = profiles ? await loadProfile(db.prisma, account) : null;
  const at = inc.lastCompletedAt;
  const ageMs = at ? Math.max(0, Date.now() - at.getTime()) : null;
  return {
    account,
    freshness: {
      verdict: ageMs === null ? "never" : ageMs <= maxAgeMs ? "fresh" : "stale",
      lastIncrementalAt: iso(at),
      ageSeconds: ageMs === null ? null : Math.round(ageMs / 1000),
      maxAgeSeconds: Math.round(maxAgeMs / 1000),
    },
    contacts: { live: counts?.live ?? 0, deleted: counts?.deleted ?? 0, lastSyncedAt: iso(counts?.last) },
    incremental: {
      syncedUntil: iso(inc.syncedUntil),
      windowUnderWay: inc.windowStart ? { from: iso(inc.windowStart), to: iso(inc.windowEnd), cursor: iso(inc.cursor) } : null,
      pageSize: inc.pageSize,
      lastCompletedAt: iso(inc.lastCompletedAt),
    },
    reconcile: {
      lastCompletedAt: iso(rec.lastCompletedAt),
      passUnderWay: rec.windowEnd ? { createdUpTo: iso(rec.windowEnd), cursor: iso(rec.cursor) } : null,
    },
    apiProfile: stored && { measuredAt: stored.measuredAt.toISOString(), ok: stored.ok, order: stored.profile.order ? describeOrder(stored.profile.order) : null, clockSkewMs: stored.profile.clockSkewMs },
    lastRuns: runs.map((r) => ({
      id: String(r.id), kind: r.kind, status: r.status, startedAt: r.startedAt.toISOString(), finishedAt: iso(r.finishedAt),
      pages: r.pages, received: r.received, inserted: r.inserted, updated: r.updated, unchanged: r.unchanged, deleted: r.deleted, error: r.error,
    })),
  };
}

export function formatStatus(report: StatusReport): string {
  const lines = [
    ...(report.earlierInstallInPublic
      ? ["an earlier release's mirror is in the schema public: the next `contacts-sync migrate` (or sync, or worker start) moves it into this release's schema (docs/operations.md, \"Upgrading to a schema of its own\")"]
      : report.notInstalled
        ? ["the mirror's tables are not in this database's schema yet (run `contacts-sync migrate`, `contacts-sync sync`, or `contacts-sync demo`)"]
        : report.accounts.length === 0 ? ["no account has been mirrored into this database yet (run `contacts-sync sync`, or `contacts-sync demo`)"] : []),
    ...(report.brief
      ? [...report.accounts.map(verdictLine), "", "details of one account: contacts-sync status --account NAME"]
      : report.accounts.flatMap((s, i) => [...(i > 0 ? [""] : []), ...formatAccount(s)])),
    "",
    report.pendingMigrations.length ? `pending migrations: ${report.pendingMigrations.join(", ")} (run: contacts-sync migrate)` : "schema: up to date",
  ];
  return lines.join("\n");
}

/** The verdict as /readyz judges it: fresh, STALE or never synced, and why. */
function verdict(s: AccountStatus): string {
  const f = s.freshness;
  const when = f.lastIncrementalAt ? `last complete incremental ${age(f.lastIncrementalAt)} ago` : "no complete incremental pass yet";
  return `${f.verdict === "fresh" ? "fresh" : f.verdict === "stale" ? "STALE" : "never synced"} (${when}; READY_MAX_AGE ${formatDuration(f.maxAgeSeconds * 1000)})`;
}

/** One line per account (ACCOUNTS_FILE): its verdict, what it holds, and a failed last run. */
function verdictLine(s: AccountStatus): string {
  const failed = s.lastRuns[0]?.status === "failed" ? `; last run FAILED: ${(s.lastRuns[0].error ?? "").split("\n")[0]!.slice(0, 120)}` : "";
  return `account ${s.account}: ${verdict(s)}; ${s.contacts.live} live contacts${failed}`;
}

function formatAccount(s: AccountStatus): string[] {
  return [
    `account ${s.account}`,
    `contacts: ${s.contacts.live} live, ${s.contacts.deleted} marked deleted; last written ${s.contacts.lastSyncedAt ?? "never"}`,
    `incremental: synced up to lastSeenAt ${s.incremental.syncedUntil ?? "(nothing yet)"}` +
      (s.incremental.windowUnderWay ? `; window under way ${s.incremental.windowUnderWay.from} .. ${s.incremental.windowUnderWay.to} (resumes at createdAt < ${s.incremental.windowUnderWay.cursor ?? "top"})` : ""),
    `reconcile: last complete pass ${s.reconcile.lastCompletedAt ?? "never"}` + (s.reconcile.passUnderWay ? `; pass under way (resumes at createdAt < ${s.reconcile.passUnderWay.cursor ?? "top"})` : ""),
    `page size seen: ${s.incremental.pageSize ?? "not yet known"}`,
    `freshness: ${verdict(s)}`,
    s.apiProfile ? `api checked ${age(s.apiProfile.measuredAt)} ago: ${s.apiProfile.ok ? "safe" : "NOT SAFE"}, order ${s.apiProfile.order ?? "none"}, clock skew ${s.apiProfile.clockSkewMs === null ? "unknown" : formatSkew(s.apiProfile.clockSkewMs)}` : "api: never checked (run: contacts-sync check)",
    "last runs:",
    ...(s.lastRuns.length === 0 ? ["  (none)"] : s.lastRuns.map((r) =>
      `  #${r.id} ${r.kind.padEnd(11)} ${r.status.padEnd(9)} ${r.startedAt}  pages ${r.pages}, received ${r.received}, +${r.inserted} ~${r.updated} =${r.unchanged} -${r.deleted}` +
        (r.error ? `\n      ${r.error.split("\n")[0]}` : ""))),
  ];
}

function age(iso: string): string {
  const ms = Math.max(0, Date.now() - Date.parse(iso));
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)} min`;
  if (ms < 172_800_000) return `${Math.round(ms / 3_600_000)} h`;
  return `${Math.round(ms / 86_400_000)} d`;
}
