// GET /readyz: the database answers, every migration is applied, and the last complete incremental pass of
// the account (by any replica: read from the checkpoint table) is younger than READY_MAX_AGE. Checked on a
// connection pool of its own, with short timeouts, so a busy pass cannot starve the probe and a database
// that hangs makes the probe answer "unready" instead of not at all.
import pg from "pg";
import { survivesServerLoss, useSchema } from "../db/client.js";
import { DEFAULT_SCHEMA } from "../db/schema.js";
import { pendingMigrations } from "../db/migrate.js";
import { scrub } from "../log.js";

/** What both answers check first: the database answers, and every migration is applied. */
export interface SchemaChecks {
  database: { ok: boolean; error?: string };
  migrations: { ok: boolean; pending?: string[] };
}

export interface Readiness {
  ready: boolean;
  checks: SchemaChecks & {
    lastIncremental: { ok: boolean; at: string | null; ageSeconds: number | null; maxAgeSeconds: number };
  };
}

export interface AccountsReadiness {
  ready: boolean;
  checks: SchemaChecks & {
    accounts: {
      ok: boolean;
      total: number;
      fresh: number;
      /** The accounts that make the process unready. */
      stale: string[];
      maxAgeSeconds: number;
      each: { account: string; ok: boolean; at: string | null; ageSeconds: number | null }[];
    };
  };
}

const TIMEOUT_MS = 3000;

export class ReadinessProbe {
  private readonly pool: pg.Pool;

  constructor(
    databaseUrl: string,
    private readonly account: string,
    private readonly maxAgeMs: number,
    private readonly now: () => number = Date.now,
    schema = DEFAULT_SCHEMA,
  ) {
    this.pool = new pg.Pool({
      connectionString: databaseUrl,
      max: 1,
      connectionTimeoutMillis: TIMEOUT_MS,
      idleTimeoutMillis: 30_000,
      statement_timeout: TIMEOUT_MS,
      query_timeout: TIMEOUT_MS,
      application_name: "contacts-sync readiness",
    });
    survivesServerLoss(this.pool);
    useSchema(this.pool, schema);
  }

  async check(): Promise<Readiness> {
    const maxAgeSeconds = Math.round(this.maxAgeMs / 1000);
    const result: Readiness = {
      ready: false,
      checks: {
        database: { ok: false },
        migrations: { ok: false },
        lastIncremental: { ok: false, at: null, ageSeconds: null, maxAgeSeconds },
      },
    };
    await this.afterSchemaChecks(result.checks, async () => {
      const { rows } = await withTimeout(
        this.pool.query<{ last_completed_at: Date | null }>(
          "select last_completed_at from sync_checkpoints where account = $1 and kind = 'incremental'",
          [this.account],
        ),
      );
      const at = rows[0]?.last_completed_at ?? null;
      if (at) {
        const age = (this.now() - at.getTime()) / 1000;
        result.checks.lastIncremental = { ok: age * 1000 <= this.maxAgeMs, at: at.toISOString(), ageSeconds: Math.round(age), maxAgeSeconds };
      }
    });
    result.ready = result.checks.database.ok && result.checks.migrations.ok && result.checks.lastIncremental.ok;
    return result;
  }

  /**
   * With ACCOUNTS_FILE: ready unless some account is stale, i.e. its last complete incremental pass (by any
   * replica) is older than READY_MAX_AGE, or it has none and has been configured here for longer than that (a
   * new account gets READY_MAX_AGE for its first pass). The body lists every account, stale ones first.
   */
  async checkAccounts(accounts: { name: string; since: number }[]): Promise<AccountsReadiness> {
    const maxAgeSeconds = Math.round(this.maxAgeMs / 1000);
    const result: AccountsReadiness = {
      ready: false,
      checks: { database: { ok: false }, migrations: { ok: false }, accounts: { ok: false, total: accounts.length, fresh: 0, stale: [], maxAgeSeconds, each: [] } },
    };
    await this.afterSchemaChecks(result.checks, async () => {
      const { rows } = await withTimeout(
        this.pool.query<{ account: string; last_completed_at: Date | null }>(
          "select account, last_completed_at from sync_checkpoints where kind = 'incremental' and account = any($1::text[])",
          [accounts.map((a) => a.name)],
        ),
      );
      const last = new Map(rows.map((r) => [r.account, r.last_completed_at]));
      const now = this.now();
      for (const { name, since } of accounts) {
        const at = last.get(name) ?? null;
        const ageMs = at ? now - at.getTime() : null;
        const ok = ageMs !== null ? ageMs <= this.maxAgeMs : now - since <= this.maxAgeMs;
        result.checks.accounts.each.push({ account: name, ok, at: at ? at.toISOString() : null, ageSeconds: ageMs === null ? null : Math.round(ageMs / 1000) });
        if (ok) result.checks.accounts.fresh += 1;
        else result.checks.accounts.stale.push(name);
      }
      result.checks.accounts.each.sort((a, b) => Number(a.ok) - Number(b.ok));
      result.checks.accounts.ok = result.checks.accounts.stale.length === 0;
    });
    result.ready = result.checks.database.ok && result.checks.migrations.ok && result.checks.accounts.ok;
    return result;
  }

  /**
   * The checks both answers start with: the database answers and every migration is applied; then `next`
   * (the freshness), whose failure, like theirs, is reported as the database's.
   */
  private async afterSchemaChecks(checks: SchemaChecks, next: () => Promise<void>): Promise<void> {
    try {
      const pending = await withTimeout(pendingMigrations(this.pool));
      checks.database.ok = true;
      checks.migrations = pending.length === 0 ? { ok: true } : { ok: false, pending };
      if (pending.length === 0) await next();
    } catch (error) {
      checks.database = { ok: false, error: scrub(error instanceof Error ? error.message : String(error)) };
    }
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => undefined);
  }
}

function withTimeout<T>(promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
