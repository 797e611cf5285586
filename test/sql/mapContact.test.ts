// The mapping from an API contact to the typed columns: pure, so tested fast and exhaustively here; the same
// rules in SQL (the back-fill) are compared with these in backfill.test.ts.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { RawContact } from "../../src/api/response.js";
import {
  CONTACT_COLUMNS, MAPPING_VERSION, attributeMap, emailLower, instant, mapContact, textList,
} from "../../src/records/mapContact.js";

const fixtures = JSON.parse(readFileSync(new URL("../fixtures/contacts/realistic.json", import.meta.url), "utf8")) as RawContact[];
const byId = (suffix: string) => fixtures.find((c) => c._id.endsWith(suffix))!;

describe("instants", () => {
  it.each([
    ["2024-06-05T19:05:50.876Z", "2024-06-05T19:05:50.876Z"],
    ["2024-06-05T19:05:50Z", "2024-06-05T19:05:50.000Z"],
    ["2024-06-05T19:05Z", "2024-06-05T19:05:00.000Z"],
    ["2024-06-05T19:05:50.876543Z", "2024-06-05T19:05:50.876Z"], // truncated to milliseconds, as JavaScript does
    ["2024-06-05T10:00:00+05:30", "2024-06-05T04:30:00.000Z"],
    ["2024-06-05T10:00:00-03:00", "2024-06-05T13:00:00.000Z"],
    ["2024-06-05", "2024-06-05T00:00:00.000Z"],
    ["2024-02-29T23:59:59.999Z", "2024-02-29T23:59:59.999Z"],
    [1717614350876, "2024-06-05T19:05:50.876Z"],
  ])("%j -> %s", (value, expected) => {
    expect(instant(value)).toBe(expected);
  });

  it.each([
    ["2024-02-30", "no such day (JavaScript's Date would say 1 March)"],
    ["2023-02-29T00:00:00Z", "not a leap year"],
    ["2024-06-05T10:00:00", "no zone: the server's own time zone would decide"],
    ["2024-06-05T24:00:00Z", "hour 24"],
    ["2024-06-05 10:00:00Z", "space instead of T"],
    ["June 5, 2024", "not ISO"],
    ["yesterday", "not a date"],
    ["1969-12-31T23:59:59Z", "before 1970"],
    ["1970-01-01T00:30:00+01:00", "before 1970 once the offset is applied"],
    [-1, "negative epoch"],
    [253402300800000, "after 9999"],
    [null, "null"],
    [true, "a boolean"],
    [{ $date: "2024-06-05T19:05:50.876Z" }, "an object"],
  ] as [unknown, string][])("%j -> null (%s)", (value) => {
    expect(instant(value)).toBeNull();
  });
});

describe("lists, attributes, e-mail", () => {
  it("takes lists as lists, a lone value as a list of one, object entries by name", () => {
    expect(textList(["lead", " ", 7, null, { name: "Big spenders", _id: "x" }, { _id: "seg-2" }, [1], {}])).toEqual(["lead", "7", "Big spenders", "seg-2"]);
    expect(textList("vip")).toEqual(["vip"]);
    expect(textList("")).toEqual([]);
    expect(textList({ name: "vip" })).toEqual([]);
    expect(textList(undefined)).toEqual([]);
  });

  it("flattens the attribute list: keyless entries skipped, missing value null, last one wins", () => {
    expect(attributeMap([
      { key: "plan", value: "free" }, { key: "age", value: 31 }, { value: "no key" }, { key: "plan", value: "pro" },
      { key: "note" }, "junk", { key: "  ", value: 1 }, { key: 5, value: { nested: true } },
    ])).toEqual({ plan: "pro", age: 31, note: null, "5": { nested: true } });
    expect(attributeMap({ plan: "pro" })).toEqual({ plan: "pro" });
    expect(attributeMap("plan=pro")).toEqual({});
    expect(attributeMap(null)).toEqual({});
    const proto = attributeMap([{ key: "__proto__", value: "x" }]);
    expect(Object.keys(proto)).toEqual(["__proto__"]);
    expect(JSON.stringify(proto)).toBe('{"__proto__":"x"}');
  });

  it("lower-cases ASCII letters of a trimmed e-mail, whatever the locale", () => {
    expect(emailLower(" Priya.Sharma@Gmail.COM ")).toBe("priya.sharma@gmail.com");
    expect(emailLower("ÄRGER@Example.de")).toBe("Ärger@example.de");
    expect(emailLower(null)).toBeNull();
  });
});

describe("mapContact", () => {
  it("fills every column of CONTACT_COLUMNS, and nothing else", () => {
    const row = mapContact(byId("c1"));
    expect(Object.keys(row).sort()).toEqual(["id", ...CONTACT_COLUMNS.map((c) => c.column)].sort());
  });

  it("maps a full WhatsApp contact", () => {
    const { raw, ...row } = mapContact(byId("c1"));
    expect(row).toEqual({
      id: "6660b1f2a3c4d5e6f7a8b9c1",
      name: "Priya S.",
      email: " Priya.Sharma@Gmail.com ",
      email_lower: "priya.sharma@gmail.com",
      phone: "+919876543210",
      phone_raw: "098765 43210",
      phone_prefix: "91",
      phone_e164: "+919876543210",
      phone_country: "IN",
      phone_type: "mobile",
      country: "India",
      tags: ["lead", "vip", "Diwali Offer"],
      segments: ["66b0c1d2e3f4a5b6c7d8e901"],
      attributes: { plan: "pro", age: 31, consent: true },
      status: "OPEN",
      platforms: ["WHATSAPP"],
      secondary_platforms: ["website"],
      whatsapp_number: "919876543210",
      telegram_username: null,
      instagram_profile_id: null,
      facebook_profile_id: null,
      is_online: false,
      user_interacted: true,
      is_subscriber: true,
      is_live_chat_active: true,
      has_ordered: true,
      is_imported: false,
      website_visits: 3,
      unread_messages: 2,
      last_message_by: "user",
      last_message_at: "2024-06-05T19:05:50.876Z",
      bot_id: "65a1f4519b7e4d0012c8a45e",
      customer_id: "65a1f3c29b7e4d0012c8a417",
      last_seen_at: "2024-06-05T19:05:50.876Z",
      created_at: "2024-01-10T08:00:00.000Z",
      updated_at: "2024-06-05T19:05:51.002Z",
      mapping_version: MAPPING_VERSION,
    });
    expect(raw).toEqual(byId("c1"));
  });

  it("takes the profile name when the provided name is blank", () => {
    expect(mapContact(byId("c2")).name).toBe("James Walker");
    expect(mapContact(byId("c3")).name).toBe("Oliver Evans");
  });

  it("leaves columns empty when the profile has no userDetails", () => {
    const row = mapContact(byId("c4"));
    expect(row).toMatchObject({
      name: null, email: null, email_lower: null, phone: null, phone_raw: null, phone_prefix: null, phone_e164: null,
      country: null, tags: [], attributes: {}, instagram_profile_id: null, last_message_by: null, last_message_at: null,
      last_seen_at: null, user_interacted: false, is_imported: true,
    });
  });

  it("tolerates a tag list sent as a string and segments sent as objects", () => {
    const row = mapContact(byId("c5"));
    expect(row.tags).toEqual(["vip"]);
    expect(row.segments).toEqual(["Big spenders"]);
    expect(row.attributes).toEqual({ plan: "enterprise", budget: "₹50,000" });
    expect(row.has_ordered).toBe(true); // a bare boolean
    expect(row.last_message_at).toBe("2024-05-30T01:45:00.000Z");
  });

  it("turns wrong types into null and keeps unknown fields in raw only", () => {
    const input = byId("c6");
    const row = mapContact(input);
    expect(row).toMatchObject({
      name: null, tags: [], attributes: {}, bot_id: null, customer_id: null,
      platforms: ["WEBSITE"], segments: ["66b0c1d2e3f4a5b6c7d8e901"], status: "7",
      is_subscriber: null, is_online: null, user_interacted: null, has_ordered: null,
      website_visits: null, unread_messages: null, last_message_by: null, last_message_at: null,
      last_seen_at: null, created_at: "2024-06-05T19:05:50.876Z", updated_at: null,
    });
    expect(Object.keys(row)).not.toContain("somethingNew");
    expect((row.raw as Record<string, unknown>).somethingNew).toEqual({ nested: [1, 2, 3] });
  });

  it("is total: any object with a string _id maps, every column with its declared type", () => {
    // Seeded garbage at every path the mapping reads.
    let seed = 42;
    const rand = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    const junk = (depth = 0): unknown => {
      const pick = Math.floor(rand() * 12);
      if (depth > 2) return pick % 2 ? "x" : 1;
      return [null, true, 0, -1.5, 1e21, "", " ", "\u0000a", "2024-06-05", [junk(depth + 1), junk(depth + 1)], { key: junk(depth + 1), value: junk(depth + 1), name: junk(depth + 1) }, undefined][pick];
    };
    const paths = ["_bot", "_customer", "platform", "secondaryPlatform", "isSubscriber", "websiteVisits", "isOnline", "userInteracted", "status", "segments", "isLiveChatActive", "hasOrdered", "unreadMessages", "lastSeenAt", "createdAt", "updatedAt", "isImported"];
    const types: Record<string, (v: unknown) => boolean> = {
      text: (v) => v === null || typeof v === "string",
      "text[]": (v) => Array.isArray(v) && v.every((x) => typeof x === "string"),
      boolean: (v) => v === null || typeof v === "boolean",
      integer: (v) => v === null || Number.isInteger(v),
      timestamptz: (v) => v === null || (typeof v === "string" && !Number.isNaN(Date.parse(v))),
      jsonb: (v) => typeof v === "object" && v !== null,
    };
    for (let i = 0; i < 500; i++) {
      const c: Record<string, unknown> = { _id: `id${i}` };
      for (const p of paths) if (rand() < 0.7) c[p] = junk();
      c.lastMessage = rand() < 0.5 ? junk() : { by: junk(), at: junk() };
      c.profile = rand() < 0.2 ? junk() : {
        userDetails: rand() < 0.2 ? junk() : {
          name: junk(), userProvidedName: junk(), tags: junk(), attributes: junk(), country: junk(),
          whatsAppNumber: junk(), telegramUserName: junk(), instagramProfileId: junk(), facebookProfileId: junk(),
          contact: rand() < 0.2 ? junk() : { email: junk(), phone: rand() < 0.3 ? junk() : { number: junk(), prefix: junk() } },
        },
      };
      const row = mapContact(c as RawContact);
      for (const { column, pgType } of CONTACT_COLUMNS) {
        expect(types[pgType]!(row[column]), `${column} = ${JSON.stringify(row[column])}`).toBe(true);
      }
      expect(JSON.stringify(row)).not.toContain("\\u0000");
    }
  });
});
