// The page write path (src/db/sql/upsertContacts.ts through src/records/mapContact.ts mapPage): typed arrays
// through unnest must store exactly what mapContact() says, whatever the text holds (quotes, backslashes,
// braces, commas, the word NULL, NUL characters), and keep the upsert's rules.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RawContact } from "../../src/api/response.js";
import { inTransaction } from "../../src/db/sql/transaction.js";
import { upsertContacts } from "../../src/db/sql/upsertContacts.js";
import { CONTACT_COLUMNS, mapContact, mapPage } from "../../src/records/mapContact.js";
import { createDatabase, type TestDatabase } from "../helpers/db.js";
import { expectedRow, loadFixture, mappedRows, upsert } from "./support.js";

let db: TestDatabase;
beforeAll(async () => {
  db = await createDatabase();
});
afterAll(async () => db?.drop());

const hostile = ['a"b', "back\\slash", "{braces}", "co,mma", "NULL", "", "  ", "\u0000nul", "😀", "x\\\"y"];
const odd = (id: string, i: number): RawContact => ({
  _id: id,
  status: hostile[i % hostile.length],
  createdAt: "2024-01-01T00:00:00Z",
  segments: hostile,
  profile: { userDetails: { name: hostile[(i + 3) % hostile.length], tags: [...hostile].reverse(), attributes: [{ key: 'k"\\', value: hostile }, { key: "n\u0000", value: 1 }] } },
  [`key\u0000${i}`]: "v\u0000",
}) as RawContact;

describe("page write path", () => {
  it("mapPage gives each column what mapContact gives, in id order, and copies only contacts with a NUL", () => {
    const contacts = [...loadFixture("realistic.json"), odd("zz", 1), odd("aa", 2)];
    const page = mapPage(contacts);
    expect(page.ids).toEqual(contacts.map((c) => c._id).sort());
    page.ids.forEach((id, r) => {
      const row = mapContact(contacts.find((c) => c._id === id)!);
      CONTACT_COLUMNS.forEach((c, i) => {
        const value = page.columns[i]![r];
        if (c.column === "raw" || c.column === "attributes") expect(JSON.parse(value as string), `${id}.${c.column}`).toEqual(row[c.column]);
        else if (c.pgType === "text[]") expect(typeof value).toBe("string");
        else expect(value, `${id}.${c.column}`).toEqual(row[c.column]);
      });
    });
    // No NUL: raw is the contact itself, not a copy; with one, a cleaned copy (the input is left as it was).
    const plain = loadFixture("realistic.json")[0]!;
    expect(mapContact(plain).raw).toBe(plain);
    const nul = odd("n1", 7);
    const row = mapContact(nul);
    expect(row.raw).not.toBe(nul);
    expect(JSON.stringify(row.raw)).not.toContain("\\u0000");
    expect(JSON.stringify(nul)).toContain("\\u0000");
  });

  it("stores hostile text exactly as mapContact maps it, and an unchanged page writes nothing", async () => {
    const contacts = [...loadFixture("realistic.json"), ...Array.from({ length: 12 }, (_, i) => odd(`odd${i}`, i))];
    expect(await upsert(db, contacts)).toMatchObject({ inserted: contacts.length, updated: 0 });
    const stored = await mappedRows(db);
    for (const c of contacts) expect(stored.get(c._id), c._id).toEqual(expectedRow(c));
    const { rows } = await db.pool.query(`SELECT id, raw FROM contacts`);
    for (const r of rows) expect(r.raw, r.id).toEqual(mapContact(contacts.find((c) => c._id === r.id)!).raw);
    // The same page again: nothing written (raw unchanged: no row has a new version), counted as unchanged.
    const versions = `SELECT id, xmin::text, ctid::text FROM contacts ORDER BY id`;
    const before = (await db.pool.query(versions)).rows;
    const counts = await inTransaction(db.pool, (client) => upsertContacts(client, "default", contacts));
    expect((await db.pool.query(versions)).rows).toEqual(before);
    expect(counts).toEqual({ inserted: 0, updated: 0, unchanged: contacts.length, restored: 0 });
  });
});
