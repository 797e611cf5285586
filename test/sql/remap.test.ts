// Re-derivation after a mapping change (src/db/sql/remapContacts.ts): 100,000 rows written by mapping 1
// are re-derived from raw by `contacts-sync remap`, which is killed half-way and run again; in batches (the
// memory bound), without waiting for rows a sync is writing, and moving synced_at only for real changes.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import type { RawContact } from "../../src/api/response.js";
import { countStale, remapContacts } from "../../src/db/sql/remapContacts.js";
import { MAPPING_VERSION } from "../../src/records/mapContact.js";
import { startCli } from "../helpers/cli.js";
import { createDatabase, type TestDatabase } from "../helpers/db.js";
import { quietLogger } from "../helpers/logs.js";
import { expectedRow, mappedRows, tick, upsert } from "./support.js";

const ROWS = 100_000;
let db: TestDatabase;
beforeAll(async () => {
  db = await createDatabase();
});
afterAll(async () => db?.drop());

/** Contacts as mapping 1 left them: raw as sent, typed columns stale (a Kenyan phone had no E.164 then). */
async function insertOldRows(n: number, account = "default"): Promise<void> {
  await db.pool.query(
    `INSERT INTO contacts (account, id, raw, name, phone, mapping_version)
     SELECT $2, 'k' || lpad(g::text, 6, '0'),
            jsonb_build_object('_id', 'k' || lpad(g::text, 6, '0'), 'status', 'OPEN',
              'profile', jsonb_build_object('userDetails', jsonb_build_object('name', 'Contact ' || g,
                'country', CASE WHEN g % 2 = 0 THEN 'Kenya' END,
                'contact', jsonb_build_object('phone', CASE
                   WHEN g % 3 = 0 THEN jsonb_build_object('number', '0712 ' || lpad((g % 1000000)::text, 6, '0'), 'prefix', '254')
                   WHEN g % 3 = 1 THEN jsonb_build_object('number', '98765' || lpad((g % 100000)::text, 5, '0'), 'prefix', '91')
                   ELSE jsonb_build_object('number', '0712 ' || lpad((g % 1000000)::text, 6, '0')) END)))),
            'stale', 'stale', 1
     FROM generate_series(1, $1::int) AS g`,
    [n, account],
  );
}

describe("remap", () => {
  it("re-derives 100,000 rows, resumes after a kill, and leaves every row as mapContact() gives it", async () => {
    await insertOldRows(ROWS);
    expect(await countStale(db.pool, "default")).toBe(ROWS);

    const run = startCli(["remap"], { DATABASE_URL: db.url, LOG_LEVEL: "info" });
    // Let it commit some batches, then hold it inside one: a SHARE lock on contacts lets its next UPDATE wait.
    for (;;) {
      const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM contacts WHERE mapping_version = $1`, [MAPPING_VERSION]);
      if (rows[0].n >= 5000) break;
      if (run.stdout().length > 0) throw new Error(`remap finished before it could be killed: ${run.stdout()}`);
      await tick(50);
    }
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    await holder.query("BEGIN");
    await holder.query("LOCK TABLE contacts IN SHARE MODE");
    const { rows: [atKill] } = await holder.query(`SELECT count(*)::int AS n FROM contacts WHERE mapping_version = $1`, [MAPPING_VERSION]);
    run.kill();
    const killed = await run.done;
    expect(killed.signal).toBe("SIGKILL");
    await holder.query("ROLLBACK");
    await holder.end();

    // Nothing half-done: the batch under way at the kill was rolled back; the committed ones stay.
    const doneAfterKill = ROWS - (await countStale(db.pool, "default"));
    expect(doneAfterKill).toBe(atKill.n);
    expect(doneAfterKill).toBeGreaterThanOrEqual(5000);
    expect(doneAfterKill).toBeLessThan(ROWS);

    // Run again (in process, to watch its batches): it carries on with what is left only.
    const batches: number[] = [];
    const summary = await remapContacts(db, "default", quietLogger(), { wait: true, onBatch: (b) => void batches.push(b.rows) });
    expect(summary.rows).toBe(ROWS - doneAfterKill);
    expect(summary.remaining).toBe(0);
    // Memory is bounded by the batch: no batch held more than 1,000 rows.
    expect(Math.max(...batches)).toBeLessThanOrEqual(1000);
    expect(batches.length).toBeGreaterThanOrEqual(Math.ceil(summary.rows / 1000));

    const { rows: runs } = await db.pool.query(`SELECT status FROM sync_runs WHERE kind = 'remap' ORDER BY id`);
    expect(runs.map((r) => r.status)).toEqual(["failed", "succeeded"]); // the killed run was closed as such

    const stored = await mappedRows(db);
    expect(stored.size).toBe(ROWS);
    const differ: string[] = [];
    const { rows: raws } = await db.pool.query<{ id: string; raw: RawContact }>(`SELECT id, raw FROM contacts WHERE id LIKE '%7'`);
    for (const { id, raw } of raws) {
      const expected = expectedRow(raw);
      const actual = stored.get(id)!;
      for (const [column, value] of Object.entries(expected)) {
        if (JSON.stringify(actual[column]) !== JSON.stringify(value)) differ.push(`${id}.${column}: ${JSON.stringify(actual[column])} != ${JSON.stringify(value)}`);
      }
    }
    expect(differ.slice(0, 5)).toEqual([]);
    expect(raws.length).toBe(ROWS / 10);
    const { rows: [kenya] } = await db.pool.query(`SELECT count(*)::int AS n FROM contacts WHERE phone_country = 'KE' AND phone_e164 LIKE '+2547%'`);
    expect(kenya.n).toBe(ROWS / 2); // every third by its prefix 254, and the even ones of those without prefix by country
  }, 300_000);

  it("does not wait for rows a sync is writing, and moves synced_at only where a column changed", async () => {
    await db.pool.query(`DELETE FROM contacts`);
    const contacts = Array.from({ length: 30 }, (_, i) => ({ _id: `u${i}`, status: "OPEN", profile: { userDetails: { country: "KE", contact: { phone: { number: "0712 123456" } } } } }) as RawContact);
    await upsert(db, contacts);
    // Same raw, marked as written by mapping 1: re-deriving changes nothing for 20 of them ...
    await db.pool.query(`UPDATE contacts SET mapping_version = 1`);
    // ... and 10 got stale columns.
    await db.pool.query(`UPDATE contacts SET phone_e164 = NULL WHERE id IN (SELECT id FROM contacts ORDER BY id LIMIT 10)`);
    const { rows: before } = await db.pool.query(`SELECT id, synced_at FROM contacts ORDER BY id`);
    await tick(10);

    // A sync page holds 5 of them.
    const page = new pg.Client({ connectionString: db.url });
    await page.connect();
    await page.query("BEGIN");
    await page.query(`SELECT 1 FROM contacts WHERE id IN (SELECT id FROM contacts ORDER BY id DESC LIMIT 5) FOR UPDATE`);
    // A slice (budgetMs) leaves what a sync holds for later instead of waiting for it.
    const first = await remapContacts(db, "default", quietLogger(), { batchSize: 7, budgetMs: 60_000 });
    expect([first.rows, first.changed, first.remaining]).toEqual([25, 10, 5]);
    await page.query("COMMIT");
    await page.end();
    const second = await remapContacts(db, "default", quietLogger());
    expect([second.rows, second.changed, second.remaining]).toEqual([5, 0, 0]);

    const { rows: after } = await db.pool.query(`SELECT id, synced_at, sync_run_id::text AS run, phone_e164 FROM contacts ORDER BY id`);
    const moved = after.filter((r, i) => r.synced_at.getTime() !== before[i].synced_at.getTime());
    expect(moved.length).toBe(10);
    expect(new Set(moved.map((r) => r.run))).toEqual(new Set([String(first.runId)]));
    expect(after.every((r) => r.phone_e164 === "+254712123456")).toBe(true);
  });

  it("re-derives one account with its own settings, and a second re-deriver of the account steps aside", async () => {
    await insertOldRows(10, "other");
    const lock = new pg.Client({ connectionString: db.url });
    await lock.connect();
    await lock.query(`SELECT pg_advisory_lock(712638502, hashtext('other'))`);
    const busy = await remapContacts(db, "other", quietLogger());
    expect([busy.busy, busy.rows, busy.remaining]).toEqual([true, 0, 10]);
    await lock.end();
    const done = await remapContacts(db, "other", quietLogger());
    expect([done.busy, done.rows, done.remaining]).toEqual([false, 10, 0]);
    expect(await countStale(db.pool, "default")).toBe(0);
  });
});
