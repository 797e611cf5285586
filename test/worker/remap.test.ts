// The worker's share of re-derivation: after each pass, a bounded slice (PassRunner.remapSlice), counted
// in the metrics; a failure there is logged and never fails the pass.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { SyncMetrics } from "../../src/metrics.js";
import { PassRunner } from "../../src/worker/passRunner.js";
import { createDatabase, type TestDatabase } from "../helpers/db.js";
import { quietLogger } from "../helpers/logs.js";

let db: TestDatabase;
beforeAll(async () => {
  db = await createDatabase();
});
afterAll(async () => db?.drop());

describe("the worker's re-derivation slice", () => {
  it("re-derives rows an older mapping wrote and reports them in /metrics", async () => {
    await db.pool.query(
      `INSERT INTO contacts (id, raw, mapping_version)
       SELECT 'w' || g, jsonb_build_object('_id', 'w' || g, 'profile', jsonb_build_object('userDetails',
         jsonb_build_object('contact', jsonb_build_object('phone', jsonb_build_object('number', '0712 123456', 'prefix', '254'))))), 1
       FROM generate_series(1, 12) g`,
    );
    const config = loadConfig({ DATABASE_URL: db.url }, { needToken: false });
    const metrics = new SyncMetrics({ startAt: config.startAt, defaultMetrics: false });
    const runner = new PassRunner({ config, db, logger: quietLogger(), metrics, signal: new AbortController().signal });
    await runner.remapSlice();
    const text = await metrics.text();
    expect(text).toContain('contacts_sync_remapped_total{result="changed"} 12');
    expect(text).toContain("contacts_sync_remap_remaining 0");
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM contacts WHERE phone_e164 = '+254712123456'`);
    expect(rows[0].n).toBe(12);
  });

  it("a database that is away is logged, not thrown", async () => {
    const config = loadConfig({ DATABASE_URL: db.url }, { needToken: false });
    const metrics = new SyncMetrics({ startAt: config.startAt, defaultMetrics: false });
    const broken = { ...db, pool: { connect: () => Promise.reject(new Error("Connection terminated")) } } as unknown as TestDatabase;
    const runner = new PassRunner({ config, db: broken, logger: quietLogger(), metrics, signal: new AbortController().signal });
    await expect(runner.remapSlice()).resolves.toBeUndefined();
    expect(await metrics.text()).toContain('contacts_sync_remapped_total{result="changed"} 0');
  });
});
