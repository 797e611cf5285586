// The indexes the views and the obvious dashboard filters need, and proof that PostgreSQL's planner picks
// them: 30,000 contacts, ANALYZE, selective predicates, default planner settings (no enable_seqscan = off),
// so these are the plans a real database of that size gets. On a handful of rows a sequential scan is
// cheaper and rightly chosen, which is why the table is filled first.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDatabase, type TestDatabase } from "../helpers/db.js";

let db: TestDatabase;

beforeAll(async () => {
  db = await createDatabase();
  await db.pool.query(`
    INSERT INTO contacts (id, raw, name, email, email_lower, phone, phone_e164, tags, segments, attributes, status, platforms, last_seen_at, created_at, synced_at)
    SELECT 'x' || g, '{}'::jsonb, 'Contact ' || g, 'User' || g || '@Example.com', 'user' || g || '@example.com',
           '+91' || (9000000000 + g), '+91' || (9000000000 + g),
           CASE WHEN g % 1000 = 0 THEN ARRAY['rare', 'lead'] ELSE ARRAY['lead', 'tag' || (g % 20)] END,
           CASE WHEN g % 997 = 0 THEN ARRAY['seg-rare'] ELSE ARRAY['seg' || (g % 5)] END,
           jsonb_build_object('plan', CASE WHEN g % 1500 = 0 THEN 'rare' ELSE (ARRAY['free', 'pro', 'enterprise'])[1 + g % 3] END, 'age', g % 60),
           'OPEN', ARRAY['WHATSAPP'],
           now() - g * interval '1 minute',
           timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute',
           now() - g * interval '1 minute'
    FROM generate_series(1, 30000) AS g`);
  // Every contact's status changed once, a day apart from one contact to the next: 30,000 previous versions.
  await db.pool.query(`UPDATE contacts SET status = 'CLOSED'`);
  await db.pool.query(`UPDATE contact_versions SET valid_to = now() - make_interval(days => (superseded_by % 1000)::int)`);
  await db.pool.query(`ANALYZE contacts; ANALYZE contact_versions`);
});
afterAll(async () => db?.drop());

/** The names of every index the plan of `sql` reads. */
async function indexesUsed(sql: string): Promise<string[]> {
  const { rows } = await db.pool.query(`EXPLAIN (FORMAT JSON) ${sql}`);
  const names: string[] = [];
  const walk = (node: Record<string, unknown>) => {
    if (typeof node["Index Name"] === "string") names.push(node["Index Name"]);
    for (const child of (node.Plans as Record<string, unknown>[] | undefined) ?? []) walk(child);
  };
  walk((rows[0]["QUERY PLAN"] as { Plan: Record<string, unknown> }[])[0]!.Plan);
  return names;
}

describe("indexes", () => {
  it.each([
    ["a tag", `SELECT id FROM contacts_current WHERE tags @> ARRAY['rare']`, "contacts_tags_idx"],
    ["any of some segments", `SELECT id FROM contacts_current WHERE segments && ARRAY['seg-rare']`, "contacts_segments_idx"],
    ["an attribute value", `SELECT id FROM contacts_current WHERE attributes @> '{"plan": "rare"}'`, "contacts_attributes_idx"],
    ["seen in the last hour", `SELECT count(*) FROM contacts_current WHERE last_seen_at >= now() - interval '1 hour'`, "contacts_last_seen_at_idx"],
    ["created in a two-hour range", `SELECT count(*) FROM contacts_current WHERE created_at >= '2024-01-01' AND created_at < '2024-01-01 02:00+00'`, "contacts_created_at_idx"],
    ["an e-mail, case-insensitively", `SELECT id FROM contacts_current WHERE email_lower = lower('User123@Example.com')`, "contacts_email_lower_idx"],
    ["what changed since the last incremental load", `SELECT id FROM contacts WHERE synced_at > now() - interval '10 minutes'`, "contacts_synced_at_idx"],
    ["a phone number", `SELECT id FROM contacts_current WHERE phone_e164 = '+919000000123'`, "contacts_phone_e164_idx"],
    ["one contact's history", `SELECT * FROM contact_changes WHERE account = 'default' AND contact_id = 'x123' ORDER BY seen_at`, "contact_versions_contact_idx"],
    ["the history pruning", `DELETE FROM contact_versions WHERE valid_to < now() - interval '995 days'`, "contact_versions_valid_to_idx"],
  ])("%s: %s uses %s", async (_what, sql, index) => {
    expect(await indexesUsed(sql)).toContain(index);
  });

  it("finds the right rows through them", async () => {
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM contacts_current WHERE tags @> ARRAY['rare'] AND attributes @> '{"age": 0}'`);
    // g % 1000 = 0 and g % 60 = 0: multiples of 3000 up to 30000.
    expect(rows[0].n).toBe(10);
  });
});
