// One writer per account, across processes and replicas: a session-level advisory lock held on its own
// connection for the whole pass. Waiting is quiet (debug) and stops on a signal.
import { setTimeout as sleep } from "node:timers/promises";
import type pg from "pg";
import { StoppedError } from "../../errors.js";
import type { Logger } from "../../log.js";

export interface AccountLock {
  release(): Promise<void>;
}

export async function lockAccount(pool: pg.Pool, account: string, logger: Logger, signal?: AbortSignal): Promise<AccountLock> {
  const client = await pool.connect();
  let announced = false;
  try {
    for (;;) {
      const { rows } = await client.query<{ ok: boolean }>(
        "select pg_try_advisory_lock(hashtext('contacts-sync'), hashtext($1)) as ok",
        [account],
      );
      if (rows[0]?.ok) break;
      if (!announced) {
        logger.info({ account }, "another contacts-sync process is syncing this account; waiting for it to finish");
        announced = true;
      }
      if (signal?.aborted) throw new StoppedError();
      await sleep(500, undefined, { signal }).catch(() => undefined);
    }
  } catch (error) {
    client.release();
    throw error;
  }
  return {
    async release() {
      await client.query("select pg_advisory_unlock(hashtext('contacts-sync'), hashtext($1))", [account]).catch(() => undefined);
      client.release();
    },
  };
}
