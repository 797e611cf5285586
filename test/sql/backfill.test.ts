// The upgrade path: a database mirrored before the typed columns existed is migrated (the SQL back-fill of
// prisma/migrations/20261121100100_contact_columns_backfill is mapping 1), then re-derived by remap, and
// every row must have exactly the columns mapContact() gives new rows. Also compares the SQL mapping functions with the TypeScript ones
// on values the API never sends, so that a later back-fill that reuses them stays faithful too.
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RawContact } from "../../src/api/response.js";
import { MIGRATIONS_DIR, migrate } from "../../src/db/migrate.js";
import { remapContacts } from "../../src/db/sql/remapContacts.js";
import { generateContacts } from "../../src/double/generate.js";
import {
  attributeMap, bool, count, instant, text, textList, withoutNul,
} from "../../src/records/mapContact.js";
import { createDatabase, type TestDatabase } from "../helpers/db.js";
import { quietLogger } from "../helpers/logs.js";
import { expectedRow, loadFixture, mappedRows } from "./support.js";

let db: TestDatabase;
afterAll(async () => db?.drop());

/** Contacts whose phones, dates and lists cover the messy cases, on top of realistic generated ones. */
function messyContacts(): RawContact[] {
  const phones: unknown[] = [
    { number: "098765 43210", prefix: "91" }, { number: "91 98765 43210", prefix: "91" }, { number: "4930123456", prefix: "49" },
    { number: "07911 123456", prefix: "+44" }, { number: "+447911123456", prefix: "1" }, { number: "9876543210" },
    "+971 50 123 4567", 9876543210, { prefix: "91" }, { number: "  ", prefix: "91" }, [1], null, { number: "(415) 555-0100", prefix: 1 },
  ];
  const dates: unknown[] = ["2024-06-05T10:00:00+05:30", "2024-06-05", "2024-02-30", "2024-06-05T10:00:00", 1717614350876.9, -5, "soon", null, true, "2024-06-05T19:05:50.876543Z"];
  const out: RawContact[] = [];
  for (let i = 0; i < 40; i++) {
    out.push({
      _id: `messy${String(i).padStart(3, "0")}`,
      _bot: i % 3 ? "65a1f40d9b7e4d0012c8a43c" : 42,
      platform: i % 4 === 0 ? "WEBSITE" : ["WHATSAPP", { name: "website" }],
      secondaryPlatform: i % 5 === 0 ? null : ["telegram"],
      isOnline: i % 2 === 0 ? "true" : false,
      websiteVisits: [3, "3", 2.5, 2147483648, -1, null][i % 6],
      unreadMessages: i,
      hasOrdered: [{ status: true }, true, { status: "no" }, null][i % 4],
      status: [7, "OPEN", " ", null][i % 4],
      segments: i % 2 ? "66b0c1d2e3f4a5b6c7d8e901" : [{ _id: "s1" }, "s2", 3],
      lastMessage: { by: ["user", 1, null][i % 3], at: dates[i % dates.length] },
      lastSeenAt: dates[(i + 3) % dates.length],
      createdAt: dates[(i + 5) % dates.length],
      profile: i % 7 === 0 ? null : {
        userDetails: i % 11 === 0 ? "broken" : {
          name: i % 2 ? "Zoë Müller" : "  ",
          userProvidedName: i % 3 ? null : "Zoë",
          contact: { email: [" Priya@X.COM ", "n/a", 5, ""][i % 4], phone: phones[i % phones.length] },
          tags: i % 3 === 0 ? "vip" : ["vip", { name: "lead" }, "vip"],
          attributes: i % 4 === 0 ? { plan: "pro" } : [{ key: "plan", value: "free" }, { key: "plan", value: i }, { value: "x" }, { key: "obj", value: { a: [1] } }],
          country: i % 2 ? "India" : false,
        },
      },
      nested: { unknown: "field" },
    } as RawContact);
  }
  return out;
}

describe("the back-fill of the typed columns", () => {
  let contacts: RawContact[];

  beforeAll(async () => {
    // A database at the state of the first release: only the init migration.
    const oldDir = mkdtempSync(join(tmpdir(), "contacts-sync-migrations-"));
    cpSync(join(MIGRATIONS_DIR, "20261121000000_init"), join(oldDir, "20261121000000_init"), { recursive: true });
    db = await createDatabase({ migrate: false });
    await migrate(db.pool, quietLogger(), oldDir);
    rmSync(oldDir, { recursive: true, force: true });

    const now = Date.parse("2026-11-01T00:00:00Z");
    contacts = [...loadFixture("realistic.json"), ...messyContacts(), ...(generateContacts(1500, { seed: 11, now }) as unknown as RawContact[])];
    // What the engine of that release stored: raw (NUL-free), with the old columns left to the back-fill.
    const raws = contacts.map((c) => withoutNul(JSON.parse(JSON.stringify(c)) as RawContact));
    await db.pool.query(`INSERT INTO contacts (id, raw, name) SELECT x->>'_id', x, 'stale' FROM jsonb_array_elements($1::jsonb) x`, [JSON.stringify(raws)]);

    await migrate(db.pool, quietLogger());
    // The SQL back-fill was mapping 1; what changed since (phones) is re-derived by the Node mapping itself.
    const { rows } = await db.pool.query(`SELECT DISTINCT mapping_version FROM contacts`);
    expect(rows).toEqual([{ mapping_version: 1 }]);
    const remapped = await remapContacts(db, "default", quietLogger());
    expect(remapped.rows).toBe(contacts.length);
  });

  it("gives every existing row the columns mapContact() gives", async () => {
    const rows = await mappedRows(db);
    expect(rows.size).toBe(contacts.length);
    const mismatches: string[] = [];
    for (const contact of contacts) {
      const expected = expectedRow(JSON.parse(JSON.stringify(contact)) as RawContact);
      const actual = rows.get(contact._id)!;
      for (const [column, value] of Object.entries(expected)) {
        if (JSON.stringify(actual[column]) !== JSON.stringify(value) && !(typeof value === "object" && value !== null && !Array.isArray(value) && JSON.stringify(sortKeys(actual[column])) === JSON.stringify(sortKeys(value)))) {
          mismatches.push(`${contact._id}.${column}: back-fill ${JSON.stringify(actual[column])}, mapContact ${JSON.stringify(value)}`);
        }
      }
    }
    expect(mismatches).toEqual([]);
    // The data set does exercise the interesting branches.
    const all = [...rows.values()];
    expect(all.filter((r) => r.phone_e164 !== null).length).toBeGreaterThan(300);
    expect(all.filter((r) => r.phone_raw !== null && r.phone_e164 === null).length).toBeGreaterThan(5);
    expect(all.filter((r) => Object.keys(r.attributes as object).length > 0).length).toBeGreaterThan(300);
    expect(all.some((r) => r.name === "stale")).toBe(false);
  });

  it("agrees with the TypeScript rules on odd JSON values", async () => {
    const values: unknown[] = [
      null, true, false, 0, -0, 7, -3, 2.5, 2147483647, 2147483648, -2147483648, -2147483649, 123456789012345680000, 1e-6,
      "", " ", "\t\n", "\u00A0", "\u3000x\u3000", "\uFEFF", "x", " x ", "Zoë", "0", "null", "true",
      "2024-06-05T19:05:50.876Z", "2024-06-05T19:05:50Z", "2024-06-05T19:05Z", "2024-06-05", "2024-06-05T10:00:00+05:30", "2024-06-05T10:00:00-12:00",
      "2024-06-05T10:00:00+24:00", "2024-13-01", "2024-00-10", "2024-04-31", "2023-02-29", "2024-02-29", "1970-01-01T00:00:00Z", "1969-12-31T23:59:59.999Z",
      "9999-12-31T23:59:59.999Z", "2024-06-05T23:59:60Z", "2024-06-05T19:05:50.1234567891Z", "2024-06-05T19:05:50.Z", " 2024-06-05", "2024-6-5",
      1717614350876, 1717614350876.9, 0, 253402300799999, 253402300800000,
      [], ["a", " ", 1, true, null, { name: "n" }, { _id: "i" }, { name: " ", _id: "j" }, [2], {}], { name: "solo" },
      [{ key: "a", value: 1 }, { key: "a", value: 2 }, { key: " " }, { key: 3, value: null }, { value: 4 }, "x", { key: "b" }], { a: 1 },
    ];
    const { rows } = await db.pool.query(
      `SELECT contacts_sync.json_text(v) AS text, contacts_sync.json_text_list(v) AS list, contacts_sync.json_bool(v) AS bool,
              contacts_sync.json_count(v) AS count, contacts_sync.json_instant(v) AS instant, contacts_sync.json_attributes(v) AS attributes
       FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS t(v, i) ORDER BY i`,
      [JSON.stringify(values)],
    );
    const differ: string[] = [];
    values.forEach((v, i) => {
      const sql = rows[i] as Record<string, unknown>;
      const ts = { text: text(v), list: textList(v), bool: bool(v), count: count(v), instant: instant(v), attributes: attributeMap(v) };
      const sqlInstant = sql.instant instanceof Date ? sql.instant.toISOString() : sql.instant;
      const got: Record<string, unknown> = { ...sql, instant: sqlInstant };
      for (const key of Object.keys(ts) as (keyof typeof ts)[]) {
        if (JSON.stringify(sortKeys(got[key])) !== JSON.stringify(sortKeys(ts[key]))) differ.push(`${JSON.stringify(v)} ${key}: SQL ${JSON.stringify(got[key])}, TS ${JSON.stringify(ts[key])}`);
      }
    });
    expect(differ).toEqual([]);
  });

  it("differs only where the migration says: numbers of 1e21 and more written as text", async () => {
    const { rows } = await db.pool.query(`SELECT contacts_sync.json_text('1e21'::jsonb) AS t`);
    expect([rows[0].t, text(1e21)]).toEqual(["1000000000000000000000", "1e+21"]);
  });
});

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value) || typeof value !== "object" || value === null) return value;
  return Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : 1)));
}
