// The page write path (src/db/sql/upsertContacts.ts through src/records/mapContact.ts mapPage): typed arrays
// through unnest must store exactly what mapContact() says, whatever the text holds (quotes, backslashes,
// braces, commas, the word NULL, NUL characters), and keep the upsert's rules.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRequire } from "node:module";
import type { RawContact } from "../../src/api/response.js";
import { inTransaction } from "../../src/db/sql/transaction.js";
import { upsertContacts, writePage } from "../../src/db/sql/upsertContacts.js";
import { parseLaneProgress, readCheckpoint, writeCheckpoint } from "../../src/db/sql/checkpoints.js";
import { CONTACT_COLUMNS, mapContact, mapPage } from "../../src/records/mapContact.js";
import { createDatabase, type TestDatabase } from "../helpers/db.js";
import { expectedRow, loadFixture, mappedRows, upsert } from "./support.js";

// pg's own serialiser of parameters (exported by pg as lib/utils, untyped): what it would have sent for an
// array, to compare with the literals mapPage writes itself.
const { prepareValue } = createRequire(import.meta.url)("pg/lib/utils.js") as { prepareValue(value: unknown): unknown };

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
    // The rows' values column by column, as mapPage took them from mapContact (list columns as array literals).
    const sortedRows = page.ids.map((id) => mapContact(contacts.find((c) => c._id === id)!));
    const values = CONTACT_COLUMNS.map((c) => sortedRows.map((row) => (c.pgType === "text[]" ? prepareValue(row[c.column]) : row[c.column])));
    page.ids.forEach((id, r) => {
      const row = mapContact(contacts.find((c) => c._id === id)!);
      CONTACT_COLUMNS.forEach((c, i) => {
        const column = page.columns[i]!;
        if (c.column === "raw" || c.column === "attributes") {
          // One JSON array text per page, in the rows' order.
          expect(typeof column).toBe("string");
          expect(JSON.parse(column as string)[r], `${id}.${c.column}`).toEqual(row[c.column]);
          return;
        }
        // One array literal per column, exactly as the driver would have written the rows' values.
        const value = values[i]![r];
        if (c.pgType === "text[]") expect(typeof value).toBe("string");
        else expect(value, `${id}.${c.column}`).toEqual(row[c.column]);
        expect(column).toBe(prepareValue(values[i]));
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

  it("writes a page and its bookkeeping (seen ids, checkpoint, run figures) in one statement: all of it or, on failure, none of it", async () => {
    await db.pool.query(`DELETE FROM contacts; DELETE FROM reconcile_seen; DELETE FROM sync_checkpoints`);
    const { rows: [run] } = await db.pool.query(`INSERT INTO sync_runs (account, kind) VALUES ('default', 'reconcile') RETURNING id`);
    const runId = BigInt(run.id);
    const contacts = loadFixture("realistic.json");
    const cursor = new Date("2024-05-01T10:00:00.000Z");
    const book = (at: Date) => ({ seenBy: runId, cursor: { kind: "reconcile" as const, cursor: at, order: "createdAt desc", pageSize: 100 }, figures: { received: contacts.length + 1, requests: 2, retries: 1 } });
    const counts = await writePage(db.pool, "default", mapPage(contacts), runId, book(cursor));
    expect(counts).toEqual({ inserted: contacts.length, updated: 0, unchanged: 0, restored: 0 });
    const state = async () => ({
      contacts: (await db.pool.query(`SELECT count(*)::int AS n FROM contacts WHERE sync_run_id = $1`, [String(runId)])).rows[0].n,
      seen: (await db.pool.query(`SELECT count(*)::int AS n FROM reconcile_seen WHERE run_id = $1`, [String(runId)])).rows[0].n,
      checkpoint: (await db.pool.query(`SELECT cursor, cursor_order, page_size FROM sync_checkpoints WHERE account = 'default' AND kind = 'reconcile'`)).rows[0],
      figures: (await db.pool.query(`SELECT pages, received, inserted, updated, unchanged, restored, requests, retries FROM sync_runs WHERE id = $1`, [String(runId)])).rows[0],
    });
    const after = await state();
    expect(after).toEqual({
      contacts: contacts.length,
      seen: contacts.length,
      checkpoint: { cursor, cursor_order: "createdAt desc", page_size: 100 },
      figures: { pages: 1, received: contacts.length + 1, inserted: contacts.length, updated: 0, unchanged: 0, restored: 0, requests: 2, retries: 1 },
    });
    // A page PostgreSQL refuses (one id twice: a row cannot be updated twice in one statement) changes nothing:
    // no contact, no seen id, no checkpoint move, no figures.
    const broken = mapPage([{ ...contacts[0]!, status: "EDITED" }, { ...contacts[0]!, status: "EDITED AGAIN" }]);
    await expect(writePage(db.pool, "default", broken, runId, book(new Date("2025-01-01T00:00:00Z")))).rejects.toThrow(/affect row a second time/);
    expect(await state()).toEqual(after);
    // The same page again: nothing changes in contacts, but the page is counted and its checkpoint moves.
    const later = new Date("2024-06-01T00:00:00.000Z");
    expect(await writePage(db.pool, "default", mapPage(contacts), runId, book(later))).toEqual({ inserted: 0, updated: 0, unchanged: contacts.length, restored: 0 });
    const again = await state();
    expect(again.checkpoint.cursor).toEqual(later);
    expect(again.figures).toMatchObject({ pages: 2, inserted: contacts.length, unchanged: contacts.length, requests: 4, retries: 2 });
  });

  it("a lane below the cursor stores its progress with its page: entries of several lanes merge, a refused page stores none, a cursor set from outside clears them", async () => {
    await db.pool.query(`DELETE FROM contacts; DELETE FROM sync_checkpoints`);
    await writeCheckpoint(db.prisma, "default", "incremental", { windowStart: new Date("2024-01-01Z"), windowEnd: new Date("2025-01-01Z"), cursor: null });
    const contacts = loadFixture("realistic.json");
    const lane = (top: string, cursor: string) => ({ lane: { kind: "incremental" as const, top: new Date(top), cursor: new Date(cursor), order: "createdAt desc" } });
    await writePage(db.pool, "default", mapPage(contacts.slice(0, 3)), null, lane("2024-09-01T00:00:00.000Z", "2024-08-20T00:00:00.000Z"));
    await writePage(db.pool, "default", mapPage(contacts.slice(3, 6)), null, lane("2024-05-01T00:00:00.000Z", "2024-04-02T03:04:05.006Z"));
    // The first lane again, further down: its entry moves, the other stays.
    await writePage(db.pool, "default", mapPage(contacts.slice(6)), null, lane("2024-09-01T00:00:00.000Z", "2024-08-01T00:00:00.000Z"));
    const stored = async () => (await readCheckpoint(db.prisma, "default", "incremental")).laneProgress.map((l) => [l.top.toISOString(), l.cursor.toISOString()]).sort();
    const expected = [["2024-05-01T00:00:00.000Z", "2024-04-02T03:04:05.006Z"], ["2024-09-01T00:00:00.000Z", "2024-08-01T00:00:00.000Z"]];
    expect(await stored()).toEqual(expected);
    expect((await readCheckpoint(db.prisma, "default", "incremental")).cursorOrder).toBe("createdAt desc");
    const broken = mapPage([{ ...contacts[0]!, status: "X" }, { ...contacts[0]!, status: "Y" }]);
    await expect(writePage(db.pool, "default", broken, null, lane("2024-03-01T00:00:00.000Z", "2024-02-01T00:00:00.000Z"))).rejects.toThrow(/affect row a second time/);
    expect(await stored()).toEqual(expected);
    // A page that may store the cursor stores no lane entry.
    await writePage(db.pool, "default", mapPage(contacts.slice(0, 1)), null, {
      cursor: { kind: "incremental", cursor: new Date("2024-10-01Z"), order: "createdAt desc", pageSize: 10 }, ...lane("2024-02-01T00:00:00.000Z", "2024-01-01T00:00:00.000Z"),
    });
    expect(await stored()).toEqual(expected);
    // The window ends (or a new one starts): the cursor is set from outside a page, and the lanes' progress goes with it.
    await writeCheckpoint(db.prisma, "default", "incremental", { syncedUntil: new Date("2025-01-01Z"), windowStart: null, windowEnd: null, cursor: null });
    expect(await stored()).toEqual([]);
    expect((await db.pool.query(`SELECT lane_progress FROM sync_checkpoints WHERE kind = 'incremental'`)).rows[0].lane_progress).toBeNull();
  });

  it("reads stored lane progress only when it is a map of instants (anything else: none, which only costs reads)", () => {
    expect(parseLaneProgress({ "2024-05-01T00:00:00.000Z": "2024-04-01T00:00:00.000Z" })).toEqual([{ top: new Date("2024-05-01T00:00:00.000Z"), cursor: new Date("2024-04-01T00:00:00.000Z") }]);
    for (const bad of [null, [], "x", 3, { a: "2024-01-01Z" }, { "2024-01-01Z": 5 }, { "2024-01-01Z": "later" }]) expect(parseLaneProgress(bad)).toEqual([]);
  });

  it("takes raw from the answer's own bytes when it has them: the same rows as serialising each contact, for a subset of the answer in any order", async () => {
    // Hostile text, but no NUL: the bytes path runs only for answers without one.
    const contacts = [...loadFixture("realistic.json"), ...Array.from({ length: 6 }, (_, i) => odd(`b${i}`, i))]
      .map((c) => JSON.parse(JSON.stringify(c).replaceAll("\\u0000", "0")) as RawContact);
    expect(contacts.length).toBeGreaterThan(8);
    // An answer as a server might format it: spaces, a wrapper, numbers written as the server writes them.
    const body = Buffer.from(`{ "success" : true, "message": "ok", "data" : [\n${contacts.map((c) => JSON.stringify(c, null, 1)).join(" ,\n")}\n] }`, "utf8");
    const rows = (JSON.parse(body.toString("utf8")) as { data: RawContact[] }).data;
    // The page writes a subset (as a read that already had some of them), given in reverse order.
    const fresh = rows.filter((_, i) => i % 3 !== 1).reverse();
    const fromBytes = mapPage(fresh, { json: body, rows });
    expect(fromBytes.rawFrom?.json).toBe(body);
    expect(fromBytes.columns[CONTACT_COLUMNS.findIndex((c) => c.column === "raw")]).toBe("");
    await writePage(db.pool, "bytes", fromBytes, null);
    await writePage(db.pool, "serialised", mapPage(fresh), null);
    const stored = async (account: string) =>
      (await db.pool.query(`SELECT id, raw, name, phone_e164, tags, attributes FROM contacts WHERE account = $1 ORDER BY id`, [account])).rows;
    const bytes = await stored("bytes");
    expect(bytes.length).toBe(fresh.length);
    expect(bytes).toEqual(await stored("serialised"));
    for (const r of bytes) expect(r.raw, r.id).toEqual(fresh.find((c) => c._id === r.id));
    // A page with a contact that is not one of the answer's rows (a read that merged answers) is serialised.
    const merged = mapPage([...fresh.slice(0, 2), { ...fresh[2]! }], { json: body, rows });
    expect(merged.rawFrom).toBeUndefined();
    expect(JSON.parse(merged.columns[CONTACT_COLUMNS.findIndex((c) => c.column === "raw")]!)).toHaveLength(3);
  });
});
