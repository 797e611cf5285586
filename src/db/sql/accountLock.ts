// One writer per account, across processes and replicas: a session-level advisory lock held on its own
// connection for the whole pass. Waiting is quiet (debug) and stops on a signal.
import { setTimeout as sleep } from "node:timers/promises";
import type pg from "pg";
import { AccountBusyError, StoppedError } from "../../errors.js";
import type { Logger } from "../../log.js";

export interface AccountLock {
  /**
   * Aborted if the session holding the lock ends (server restart, failover, a terminated backend): the lock
   * is gone with it, so the pass must stop before another process takes the lock and writes too.
   */
  lost: AbortSignal;
  release(): Promise<void>;
}

/** `wait: false`: throw AccountBusyError at once when another session holds the lock (many accounts: move on). */
export async function lockAccount(pool: pg.Pool, account: string, logger: Logger, signal?: AbortSignal, options: { wait?: boolean } = {}): Promise<AccountLock> {
  const client = await pool.connect();
  const lost = new AbortController();
  // Without a listener, an error on this idle connection would crash the process (pg emits it unhandled).
  const onError = (error: Error) => {
    if (!lost.signal.aborted) logger.error({ account, reason: error.message }, "the database connection holding the account lock ended");
    lost.abort(error);
  };
  client.on("error", onError);
  client.once("end", () => lost.abort(new Error("connection ended")));
  let announced = false;
  try {
    for (;;) {
      const { rows } = await client.query<{ ok: boolean }>(
        "select pg_try_advisory_lock(hashtext('contacts-sync'), hashtext($1)) as ok",
        [account],
      );
      if (rows[0]?.ok) break;
      if (options.wait === false) throw new AccountBusyError(account);
      if (!announced) {
        logger.info({ account }, "another contacts-sync process is syncing this account; waiting for it to finish");
        announced = true;
      }
      if (signal?.aborted) throw new StoppedError();
      await sleep(500, undefined, { signal }).catch(() => undefined);
    }
  } catch (error) {
    client.off("error", onError);
    client.release(lost.signal.aborted);
    throw error;
  }
  return {
    lost: lost.signal,
    async release() {
      const broken = lost.signal.aborted;
      if (!broken) await client.query("select pg_advisory_unlock(hashtext('contacts-sync'), hashtext($1))", [account]).catch(() => undefined);
      client.off("error", onError);
      // A broken connection is destroyed, not returned to the pool.
      client.release(broken);
    },
  };
}
