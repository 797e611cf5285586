// Every view of the analyst surface (prisma/migrations/20261121100200_analyst_views) on the crafted data
// set of crafted.ts, whose answers are written out here by hand.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDatabase, type TestDatabase } from "../helpers/db.js";
import { CRAFTED, HOUR, writeCrafted } from "./crafted.js";

let db: TestDatabase;
let now: number;

beforeAll(async () => {
  db = await createDatabase();
  ({ now } = await writeCrafted(db));
});
afterAll(async () => db?.drop());

async function rows(sql: string): Promise<Record<string, unknown>[]> {
  return (await db.pool.query(sql)).rows;
}

describe("views", () => {
  it("contacts_current: live contacts of every account, typed columns, no raw", async () => {
    const current = await rows(`SELECT * FROM contacts_current ORDER BY account, id`);
    expect(current.map((r) => `${r.account}/${r.id}`)).toEqual([
      "default/c01", "default/c02", "default/c03", "default/c04", "default/c05", "default/c08", "other/o01",
    ]);
    expect(Object.keys(current[0]!)).not.toContain("raw");
    expect(Object.keys(current[0]!)).not.toContain("deleted_at");
    expect(current[0]).toMatchObject({
      name: "Contact c01", email: "Priya@Example.com", email_lower: "priya@example.com", phone: "+919876543210",
      phone_e164: "+919876543210", country: "India", channel: "whatsapp", tags: ["vip", "lead"], segments: ["S1"],
      attributes: { plan: "pro", age: 31 }, has_ordered: true, user_interacted: true,
    });
    expect(current.find((r) => r.id === "c08")!.channel).toBe("unknown");
    expect(current.find((r) => r.id === "c05")!.tags).toEqual(["newsletter"]);
  });

  it("daily_new_contacts: per UTC day of created_at and channel", async () => {
    expect(await rows(`SELECT day::text, channel, contacts FROM daily_new_contacts WHERE account = 'default' ORDER BY day, channel`)).toEqual([
      { day: "2026-01-10", channel: "website", contacts: 1 },
      { day: "2026-01-10", channel: "whatsapp", contacts: 2 }, // c01 and c02 (23:30 UTC); c06, c07 are deleted
      { day: "2026-01-11", channel: "telegram", contacts: 1 },
      { day: "2026-01-11", channel: "unknown", contacts: 1 },
      { day: "2026-01-11", channel: "website", contacts: 1 }, // c04 at 00:00:00.000 UTC belongs to the 11th
    ]);
    expect(await rows(`SELECT day::text, channel, contacts FROM daily_new_contacts WHERE account = 'other'`)).toEqual([
      { day: "2026-01-10", channel: "whatsapp", contacts: 1 },
    ]);
  });

  it("daily_active_contacts: per UTC day of last_seen_at and channel; never-seen contacts are absent", async () => {
    const expected = new Map<string, number>();
    for (const s of CRAFTED) {
      if (s.seenHoursAgo === null || s.id === "c06" || s.status === "DELETED") continue;
      const key = `${new Date(now - s.seenHoursAgo * HOUR).toISOString().slice(0, 10)} ${s.platform[0]?.toLowerCase() ?? "unknown"}`;
      expected.set(key, (expected.get(key) ?? 0) + 1);
    }
    const got = await rows(`SELECT day::text, channel, contacts FROM daily_active_contacts WHERE account = 'default'`);
    expect(new Map(got.map((r) => [`${r.day} ${r.channel}`, r.contacts]))).toEqual(expected);
    expect(got.reduce((n, r) => n + (r.contacts as number), 0)).toBe(5); // c01 c02 c03 c04 c08
  });

  it("contact_tags: one row per contact and tag, repeated tags once; contacts_by_tag counts them", async () => {
    expect(await rows(`SELECT contact_id, tag FROM contact_tags WHERE account = 'default' ORDER BY contact_id, tag`)).toEqual([
      { contact_id: "c01", tag: "lead" }, { contact_id: "c01", tag: "vip" }, { contact_id: "c02", tag: "lead" },
      { contact_id: "c03", tag: "vip" }, { contact_id: "c05", tag: "newsletter" },
    ]);
    expect(await rows(`SELECT tag, contacts FROM contacts_by_tag WHERE account = 'default' ORDER BY tag`)).toEqual([
      { tag: "lead", contacts: 2 }, { tag: "newsletter", contacts: 1 }, { tag: "vip", contacts: 2 },
    ]);
  });

  it("contact_segments and contacts_by_segment", async () => {
    expect(await rows(`SELECT contact_id, segment FROM contact_segments WHERE account = 'default' ORDER BY 1, 2`)).toEqual([
      { contact_id: "c01", segment: "S1" }, { contact_id: "c03", segment: "S1" }, { contact_id: "c03", segment: "S2" },
    ]);
    expect(await rows(`SELECT segment, contacts FROM contacts_by_segment WHERE account = 'default' ORDER BY 1`)).toEqual([
      { segment: "S1", contacts: 2 }, { segment: "S2", contacts: 1 },
    ]);
  });

  it("contacts_by_status and contacts_by_country", async () => {
    expect(await rows(`SELECT status, contacts FROM contacts_by_status WHERE account = 'default' ORDER BY 1`)).toEqual([
      { status: "CLOSED", contacts: 2 }, { status: "OPEN", contacts: 4 },
    ]);
    expect(await rows(`SELECT country, contacts FROM contacts_by_country WHERE account = 'default' ORDER BY 1 NULLS LAST`)).toEqual([
      { country: "India", contacts: 3 }, { country: "United States", contacts: 1 }, { country: null, contacts: 2 },
    ]);
  });

  it("contact_activity: cumulative flags and one exclusive cohort; activity_cohorts counts them", async () => {
    expect(await rows(`SELECT contact_id, active_1d, active_7d, active_30d, cohort FROM contact_activity WHERE account = 'default' ORDER BY 1`)).toEqual([
      { contact_id: "c01", active_1d: true, active_7d: true, active_30d: true, cohort: "active_1d" },
      { contact_id: "c02", active_1d: false, active_7d: true, active_30d: true, cohort: "active_2_7d" },
      { contact_id: "c03", active_1d: false, active_7d: false, active_30d: true, cohort: "active_8_30d" },
      { contact_id: "c04", active_1d: false, active_7d: false, active_30d: false, cohort: "dormant" },
      { contact_id: "c05", active_1d: false, active_7d: false, active_30d: false, cohort: "never_interacted" },
      // Seen half an hour ago but never interacted (a website visitor the bot greeted).
      { contact_id: "c08", active_1d: true, active_7d: true, active_30d: true, cohort: "never_interacted" },
    ]);
    expect(await rows(`SELECT cohort, contacts FROM activity_cohorts WHERE account = 'default' ORDER BY 1`)).toEqual([
      { cohort: "active_1d", contacts: 1 }, { cohort: "active_2_7d", contacts: 1 }, { cohort: "active_8_30d", contacts: 1 },
      { cohort: "dormant", contacts: 1 }, { cohort: "never_interacted", contacts: 2 },
    ]);
  });

  it("contact_attributes: one row per contact and key, value as text and as JSON", async () => {
    expect(await rows(`SELECT contact_id, key, value, value_json FROM contact_attributes WHERE account = 'default' ORDER BY 1, 2`)).toEqual([
      { contact_id: "c01", key: "age", value: "31", value_json: 31 },
      { contact_id: "c01", key: "plan", value: "pro", value_json: "pro" },
      { contact_id: "c02", key: "consent", value: "true", value_json: true },
      { contact_id: "c02", key: "note", value: null, value_json: null },
      { contact_id: "c02", key: "plan", value: "free", value_json: "free" },
    ]);
  });

  it("leaves out contacts deleted either way, in every view", async () => {
    for (const view of ["contacts_current", "contact_tags", "contact_segments", "contact_activity", "contact_attributes"]) {
      const idColumn = view === "contacts_current" ? "id" : "contact_id";
      const { rows: found } = await db.pool.query(`SELECT 1 FROM ${view} WHERE ${idColumn} IN ('c06', 'c07')`);
      expect(found, view).toEqual([]);
    }
  });
});
