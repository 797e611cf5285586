// The contact history (prisma/migrations/20261121100300_contact_history): written by triggers in the
// transaction of the upsert, only for tracked fields, with insert / delete / restore; contacts_as_of();
// retention. Driven through the engine's own writes: upsertContacts, the reconcile deletion, and whole
// sync passes against the API double.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { RawContact } from "../../src/api/response.js";
import { loadConfig } from "../../src/config.js";
import { pruneHistory, pruneHistoryAfterPass } from "../../src/db/sql/pruneHistory.js";
import { markUnseenDeleted, recordSeen } from "../../src/db/sql/reconcileDeletes.js";
import { upsertContacts } from "../../src/db/sql/upsertContacts.js";
import { inTransaction } from "../../src/db/sql/transaction.js";
import { ConfigError } from "../../src/errors.js";
import { mapContact } from "../../src/records/mapContact.js";
import { runReconcile } from "../../src/sync/runPass.js";
import { createDatabase, type TestDatabase } from "../helpers/db.js";
import { capturingLogger } from "../helpers/logs.js";
import { source, startRig, type Rig } from "../helpers/sync.js";
import { craftedContact, type CraftedSpec } from "./crafted.js";
import { tick, upsert } from "./support.js";

interface ChangeRow {
  change_id: string;
  contact_id: string;
  kind: string;
  changes: Record<string, { old: unknown; new: unknown }>;
  seen_at: Date;
}

async function changesAfter(db: TestDatabase, changeId = "0"): Promise<ChangeRow[]> {
  const { rows } = await db.pool.query<ChangeRow>(
    `SELECT change_id, contact_id, kind, changes, seen_at FROM contact_changes WHERE change_id > $1 ORDER BY change_id`,
    [changeId],
  );
  return rows;
}

/** The tracked fields of a mapped contact, as the trigger stores them. */
const TRACKED = [
  "name", "email", "phone", "country", "status", "tags", "segments", "attributes", "platforms", "secondary_platforms",
  "whatsapp_number", "telegram_username", "instagram_profile_id", "facebook_profile_id", "is_subscriber",
  "user_interacted", "has_ordered", "is_imported", "bot_id", "customer_id", "created_at",
] as const;
const SETS = new Set(["tags", "segments", "platforms", "secondary_platforms"]);
function tracked(contact: RawContact): Record<string, unknown> {
  const row = mapContact(contact);
  return Object.fromEntries(TRACKED.map((f) => [f, row[f]]));
}
/** Lists count as changed only when their sets differ; values are recorded as sent. */
function diff(before: RawContact, after: RawContact): Record<string, { old: unknown; new: unknown }> {
  const a = tracked(before);
  const b = tracked(after);
  const same = (f: string) =>
    SETS.has(f)
      ? JSON.stringify([...new Set(a[f] as string[])].sort()) === JSON.stringify([...new Set(b[f] as string[])].sort())
      : JSON.stringify(sortKeys(a[f])) === JSON.stringify(sortKeys(b[f]));
  const out: Record<string, { old: unknown; new: unknown }> = {};
  for (const f of TRACKED) if (!same(f)) out[f] = { old: a[f], new: b[f] };
  return out;
}
function sortKeys(value: unknown): unknown {
  if (Array.isArray(value) || typeof value !== "object" || value === null) return value;
  return Object.fromEntries(Object.entries(value).sort(([x], [y]) => (x < y ? -1 : 1)));
}

const base = (id: string, over: Partial<CraftedSpec> = {}): CraftedSpec => ({
  id, platform: ["WHATSAPP"], createdAt: "2026-01-10T05:00:00.000Z", seenHoursAgo: 5, interacted: true, tags: ["lead"], status: "OPEN", country: "India", ...over,
});

describe("contact history from upserts", () => {
  let db: TestDatabase;
  const now = Date.now();
  beforeAll(async () => {
    db = await createDatabase();
  });
  afterAll(async () => db?.drop());

  it("records inserts, exactly the tracked changes, deletion and restore, in the upsert's transaction", async () => {
    const a1 = craftedContact(base("A", { attributes: [{ key: "plan", value: "free" }] }), now);
    const b1 = craftedContact(base("B", { tags: ["vip", "lead"] }), now);
    const c1 = craftedContact(base("C", { email: "c@example.com" }), now);
    await upsert(db, [a1, b1, c1]);
    const inserts = await changesAfter(db);
    expect(inserts.map((r) => [r.contact_id, r.kind])).toEqual([["A", "insert"], ["B", "insert"], ["C", "insert"]]);
    // An insert carries the tracked fields it arrived with (empty ones left out), old null.
    expect(inserts[0]!.changes).toEqual({
      name: { old: null, new: "Contact A" }, status: { old: null, new: "OPEN" }, country: { old: null, new: "India" },
      tags: { old: null, new: ["lead"] }, platforms: { old: null, new: ["WHATSAPP"] }, attributes: { old: null, new: { plan: "free" } },
      is_subscriber: { old: null, new: true }, user_interacted: { old: null, new: true }, has_ordered: { old: null, new: false },
      is_imported: { old: null, new: false }, bot_id: { old: null, new: "65a1f4519b7e4d0012c8a45e" },
      customer_id: { old: null, new: "65a1f3c29b7e4d0012c8a417" }, created_at: { old: null, new: "2026-01-10T05:00:00.000Z" },
    });
    const afterInsert = inserts[2]!;

    await tick();
    // A: status, tags and an attribute change, and it was seen again. B: seen again, tags reordered (raw
    // changes, nothing tracked does). C: identical (not even rewritten).
    const a2 = craftedContact(base("A", { status: "CLOSED", tags: ["lead", "vip"], seenHoursAgo: 1, attributes: [{ key: "plan", value: "pro" }] }), now);
    const b2 = { ...craftedContact(base("B", { tags: ["lead", "vip"], seenHoursAgo: 1 }), now), unreadMessages: 4 };
    const counts = await upsert(db, [a2, b2, c1]);
    expect(counts).toMatchObject({ inserted: 0, updated: 2, unchanged: 1 });
    const updates = await changesAfter(db, afterInsert.change_id);
    expect(updates.map((r) => ({ id: r.contact_id, kind: r.kind, changes: r.changes }))).toEqual([{
      id: "A", kind: "update", changes: {
        status: { old: "OPEN", new: "CLOSED" },
        tags: { old: ["lead"], new: ["lead", "vip"] },
        attributes: { old: { plan: "free" }, new: { plan: "pro" } },
      },
    }]);
    const afterUpdate = updates[0]!;

    await tick();
    // A reconcile pass that saw A and B only: C is marked deleted.
    await recordSeen(db.pool, 1n, "default", ["A", "B"]);
    await db.prisma.$transaction(async (tx) => {
      expect(await markUnseenDeleted(tx, 1n, "default", new Date())).toBe(1);
    });
    const [deletion] = await changesAfter(db, afterUpdate.change_id);
    expect(deletion).toMatchObject({ contact_id: "C", kind: "delete" });
    expect(Object.keys(deletion!.changes)).toEqual(["deleted_at"]);
    expect(deletion!.changes.deleted_at!.old).toBeNull();
    expect(Date.parse(deletion!.changes.deleted_at!.new as string)).toBe(deletion!.seen_at.getTime());

    await tick();
    // C comes back unchanged: restored.
    expect(await upsert(db, [c1])).toMatchObject({ restored: 1 });
    const [restore] = await changesAfter(db, deletion!.change_id);
    expect(restore).toMatchObject({ contact_id: "C", kind: "restore", changes: { deleted_at: { old: deletion!.changes.deleted_at!.new, new: null } } });

    // A failed page writes no history: the changes belong to the transaction.
    await tick();
    const a3 = craftedContact(base("A", { status: "REVIEW" }), now);
    await expect(inTransaction(db.pool, async (client) => {
      await upsertContacts(client, "default", [a3]);
      throw new Error("the page's checkpoint could not be written");
    })).rejects.toThrow("checkpoint");
    expect(await changesAfter(db, restore!.change_id)).toEqual([]);

    // State as of each moment.
    const asOf = async (at: Date) => (await db.pool.query(`SELECT * FROM contacts_as_of($1) ORDER BY id`, [at])).rows;
    const atInsert = await asOf(afterInsert.seen_at);
    expect(atInsert.map((r) => [r.id, r.status, r.tags, r.attributes, r.deleted_at])).toEqual([
      ["A", "OPEN", ["lead"], { plan: "free" }, null], ["B", "OPEN", ["lead", "vip"], {}, null], ["C", "OPEN", ["lead"], {}, null],
    ]);
    const atUpdate = await asOf(afterUpdate.seen_at);
    expect(atUpdate.map((r) => [r.id, r.status, r.tags, r.attributes])).toEqual([
      ["A", "CLOSED", ["lead", "vip"], { plan: "pro" }], ["B", "OPEN", ["lead", "vip"], {}], ["C", "OPEN", ["lead"], {}],
    ]);
    const atDeletion = await asOf(deletion!.seen_at);
    expect(atDeletion.find((r) => r.id === "C")!.deleted_at).toEqual(deletion!.seen_at);
    expect((await asOf(new Date())).find((r) => r.id === "C")!.deleted_at).toBeNull();
    // Before the first insert (and after history began): nobody yet.
    expect(await asOf(new Date(inserts[0]!.seen_at.getTime() - 1))).toEqual([]);
  });

  it("tracks exactly the tracked fields: each changed alone is recorded alone, the others not at all", async () => {
    await upsert(db, [craftedContact(base("F", { attributes: [{ key: "plan", value: "free" }], segments: ["S1"], email: "f@example.com" }), now)]);
    const setTo: Record<string, string> = {
      name: `'Renamed'`, email: `'g@example.com'`, phone: `'+447911123456'`, country: `'Nepal'`, status: `'REVIEW'`,
      tags: `ARRAY['lead', 'gold']`, segments: `ARRAY['S2']`, attributes: `'{"plan": "pro"}'`, platforms: `ARRAY['WEBSITE']`,
      secondary_platforms: `ARRAY['website']`, whatsapp_number: `'447911123456'`, telegram_username: `'f_1'`,
      instagram_profile_id: `'123'`, facebook_profile_id: `'456'`, is_subscriber: `NOT is_subscriber`,
      user_interacted: `NOT user_interacted`, has_ordered: `NOT has_ordered`, is_imported: `NOT is_imported`,
      bot_id: `'bot-2'`, customer_id: `'cust-2'`, created_at: `created_at + interval '1 day'`, deleted_at: `now()`,
    };
    expect(Object.keys(setTo).sort()).toEqual([...TRACKED, "deleted_at"].sort());
    const untracked: Record<string, string> = {
      last_seen_at: `now()`, updated_at: `now()`, is_online: `NOT coalesce(is_online, false)`, is_live_chat_active: `NOT coalesce(is_live_chat_active, false)`,
      unread_messages: `99`, website_visits: `99`, last_message_by: `'agent'`, last_message_at: `now()`, email_lower: `'x'`,
      phone_raw: `'1'`, phone_prefix: `'1'`, phone_e164: `'+1'`, raw: `raw || '{"x": 1}'`, synced_at: `now()`,
      tags: `ARRAY['lead', 'lead']`, segments: `ARRAY['S1', 'S1']`, // the same sets, repeated
    };
    const { rows: [{ max }] } = await db.pool.query(`SELECT max(change_id)::text AS max FROM contact_changes`);
    for (const [column, value] of Object.entries(untracked)) await db.pool.query(`UPDATE contacts SET ${column} = ${value} WHERE id = 'F'`);
    expect(await changesAfter(db, max)).toEqual([]);
    let last = max as string;
    for (const [column, value] of Object.entries(setTo)) {
      await db.pool.query(`UPDATE contacts SET ${column} = ${value} WHERE id = 'F'`);
      const rows = await changesAfter(db, last);
      expect(rows.map((r) => Object.keys(r.changes)), column).toEqual([[column]]);
      last = rows[0]!.change_id;
    }
    expect(await changesAfter(db, max)).toHaveLength(Object.keys(setTo).length);
  });

  it("refuses instants before the history is complete, and says why", async () => {
    await expect(db.pool.query(`SELECT * FROM contacts_as_of(now() - interval '1 day')`)).rejects.toMatchObject({
      message: expect.stringMatching(/history is complete only from .* on/),
      hint: expect.stringContaining("HISTORY_RETENTION"),
    });
  });
});

describe("contact history of real sync passes", () => {
  let rig: Rig | undefined;
  afterEach(async () => {
    await rig?.close();
    rig = undefined;
  });

  it("records exactly the changes the double made between two reconcile passes", async () => {
    rig = await startRig({ contacts: 300, pageSize: 50, seed: 5 });
    await runReconcile(rig.ctx);
    const before = source(rig.double) as Map<string, RawContact>;
    const { rows: [{ max }] } = await rig.db.pool.query(`SELECT max(change_id)::text AS max FROM contact_changes`);
    expect(await changesAfter(rig.db)).toHaveLength(before.size); // one insert each
    // ...stored as the contacts themselves: a first pass writes no history row at all.
    const versions = async () => (await rig!.db.pool.query(`SELECT count(*)::int AS n FROM contact_versions`)).rows[0].n as number;
    expect(await versions()).toBe(0);
    await runReconcile(rig.ctx);
    expect(await versions()).toBe(0); // nor does an unchanged pass

    const store = rig.double.store;
    const ids = [...before.keys()];
    for (const id of ids.slice(0, 15)) store.see(id);
    for (const id of ids.slice(15, 45)) store.editSilently(id);
    for (const id of ids.slice(45, 50)) store.delete(id);
    const created = store.create(4).map((c) => c._id);
    await tick(20);
    await runReconcile(rig.ctx);
    const after = source(rig.double) as Map<string, RawContact>;

    const expected = new Map<string, { kind: string; changes?: Record<string, unknown> }>();
    for (const id of new Set([...before.keys(), ...after.keys()])) {
      const b = before.get(id);
      const a = after.get(id);
      if (!b) expected.set(id, { kind: "insert" });
      else if (!a) expected.set(id, { kind: "delete" });
      else {
        const changes = diff(b, a);
        if (Object.keys(changes).length > 0) expected.set(id, { kind: "update", changes });
      }
    }
    const actual = await changesAfter(rig.db, max);
    // One previous version per changed, deleted contact; none for new ones.
    expect(await versions()).toBe(actual.filter((r) => r.kind !== "insert").length);
    expect(new Set(actual.map((r) => r.contact_id)).size).toBe(actual.length); // one row per contact
    expect(new Map(actual.map((r) => [r.contact_id, r.kind]))).toEqual(new Map([...expected].map(([id, e]) => [id, e.kind])));
    for (const row of actual.filter((r) => r.kind === "update")) {
      expect(sortKeysDeep(row.changes), row.contact_id).toEqual(sortKeysDeep(expected.get(row.contact_id)!.changes));
    }
    for (const row of actual.filter((r) => r.kind === "delete")) expect(Object.keys(row.changes)).toEqual(["deleted_at"]);
    // The data set did exercise each kind: silent edits, deletions, new contacts.
    expect(actual.filter((r) => r.kind === "update").length).toBeGreaterThanOrEqual(25);
    expect(actual.filter((r) => r.kind === "delete").map((r) => r.contact_id).sort()).toEqual(ids.slice(45, 50).sort());
    expect(actual.filter((r) => r.kind === "insert").map((r) => r.contact_id).sort()).toEqual(created.sort());

    // A restored contact comes back with a 'restore' row and nothing else changed.
    const { rows: [{ max: max2 }] } = await rig.db.pool.query(`SELECT max(change_id)::text AS max FROM contact_changes`);
    store.restore(ids[45]!);
    await runReconcile(rig.ctx);
    const restored = await changesAfter(rig.db, max2);
    expect(restored.map((r) => [r.contact_id, r.kind, Object.keys(r.changes)])).toEqual([[ids[45], "restore", ["deleted_at"]]]);
  });

  it("prunes changes older than HISTORY_RETENTION after a reconcile pass", async () => {
    rig = await startRig({ contacts: 60, pageSize: 50 });
    await runReconcile(rig.ctx);
    // Pretend history has been recorded for ten days, and the first 40 inserts were seen 3 days ago (the
    // first 10 of them changed 2.5 days ago: their first versions ended then).
    await rig.db.pool.query(`UPDATE contact_history_state SET complete_since = now() - interval '10 days'`);
    await rig.db.pool.query(`UPDATE contacts SET valid_from = now() - interval '3 days' WHERE change_id IN (SELECT change_id FROM contact_changes ORDER BY change_id LIMIT 40)`);
    await rig.db.pool.query(`UPDATE contacts SET status = status || '!' WHERE change_id IN (SELECT change_id FROM contact_changes ORDER BY change_id LIMIT 10)`);
    await rig.db.pool.query(`UPDATE contact_versions SET valid_to = now() - interval '2.5 days'`);
    await rig.db.pool.query(`UPDATE contacts SET valid_from = now() - interval '2.5 days' WHERE change_id IN (SELECT superseded_by FROM contact_versions)`);
    expect((await rig.db.pool.query(`SELECT count(*)::int AS n FROM contact_versions`)).rows[0].n).toBe(10);
    await expect(rig.db.pool.query(`SELECT count(*) FROM contacts_as_of(now() - interval '4 days')`)).resolves.toBeTruthy();
    rig.ctx.config.historyRetentionMs = 2 * 86_400_000;
    await runReconcile(rig.ctx);
    const { rows } = await rig.db.pool.query(`SELECT count(*)::int AS n, min(seen_at) > now() - interval '2 days' AS recent FROM contact_changes`);
    expect(rows[0]).toEqual({ n: 20, recent: true });
    const { rows: [state] } = await rig.db.pool.query(`SELECT complete_since FROM contact_history_state`);
    expect(Math.abs((state.complete_since as Date).getTime() - (Date.now() - 2 * 86_400_000))).toBeLessThan(60_000);
    await expect(rig.db.pool.query(`SELECT * FROM contacts_as_of(now() - interval '3 days')`)).rejects.toThrow(/complete only from/);
    await expect(rig.db.pool.query(`SELECT count(*) FROM contacts_as_of(now() - interval '1 day')`)).resolves.toBeTruthy();
  });
});

describe("retention setting and pruning", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createDatabase();
  });
  afterAll(async () => db?.drop());

  it("HISTORY_RETENTION defaults to 365 days, 0 keeps everything, nonsense names the variable", () => {
    expect(loadConfig({}, { needToken: false }).historyRetentionMs).toBe(365 * 86_400_000);
    expect(loadConfig({ HISTORY_RETENTION: "90d" }, { needToken: false }).historyRetentionMs).toBe(90 * 86_400_000);
    expect(loadConfig({ HISTORY_RETENTION: "0" }, { needToken: false }).historyRetentionMs).toBe(0);
    expect(() => loadConfig({ HISTORY_RETENTION: "forever" }, { needToken: false })).toThrow(ConfigError);
    expect(() => loadConfig({ HISTORY_RETENTION: "forever" }, { needToken: false })).toThrow(/HISTORY_RETENTION: expected a duration/);
  });

  it("keeps everything at 0, and logs rather than fails the pass when pruning cannot run", async () => {
    await upsert(db, [craftedContact(base("P"), Date.now())]);
    const { logger, lines } = capturingLogger("info");
    await db.pool.query(`UPDATE contacts SET status = 'CLOSED' WHERE id = 'P'`);
    await db.pool.query(`UPDATE contact_versions SET valid_to = now() - interval '10 years'`);
    await db.pool.query(`UPDATE contact_history_state SET complete_since = now() - interval '11 years'`);
    await pruneHistoryAfterPass(db.prisma, 0, logger);
    expect((await db.pool.query(`SELECT count(*)::int AS n FROM contact_versions`)).rows[0].n).toBe(1);
    await pruneHistoryAfterPass(db.prisma, 1.5, logger);
    expect(lines.join("")).toContain("pruning contact history failed");
    expect((await pruneHistory(db.prisma, 86_400_000)).deleted).toBe(1);
    expect((await db.pool.query(`SELECT count(*)::int AS n FROM contact_versions`)).rows[0].n).toBe(0);
  });
});

function sortKeysDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeysDeep);
  if (typeof value !== "object" || value === null) return value;
  return Object.fromEntries(Object.entries(value).sort(([x], [y]) => (x < y ? -1 : 1)).map(([k, v]) => [k, sortKeysDeep(v)]));
}
