// The migration to previous-versions-only history (20261201100000_history_of_previous_versions) converts
// the history of a database the earlier migrations made without loss: contact_changes and contacts_as_of()
// answer the same before and after, for every instant the history holds. The history is written through the
// old triggers by the engine's own upsert and deletion, then the new migration is applied on top.
import { cpSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RawContact } from "../../src/api/response.js";
import { MIGRATIONS_DIR, migrate } from "../../src/db/migrate.js";
import { markUnseenDeleted, recordSeen } from "../../src/db/sql/reconcileDeletes.js";
import { createDatabase, type TestDatabase } from "../helpers/db.js";
import { quietLogger } from "../helpers/logs.js";
import { craftedContact, type CraftedSpec } from "./crafted.js";
import { tick, upsert } from "./support.js";

const CONVERSION = "20261201100000_history_of_previous_versions";

let db: TestDatabase;
let before: string;
beforeAll(async () => {
  // The migrations as they were before the conversion, in a folder of their own.
  before = mkdtempSync(join(tmpdir(), "contacts-sync-migrations-"));
  for (const name of readdirSync(MIGRATIONS_DIR)) if (name < CONVERSION) cpSync(join(MIGRATIONS_DIR, name), join(before, name), { recursive: true });
  db = await createDatabase({ migrate: false });
  await migrate(db.pool, quietLogger(), before);
});
afterAll(async () => {
  await db?.drop();
  if (before) rmSync(before, { recursive: true, force: true });
});

const now = Date.now();
const base = (id: string, over: Partial<CraftedSpec> = {}): CraftedSpec => ({
  id, platform: ["WHATSAPP"], createdAt: "2026-01-10T05:00:00.000Z", seenHoursAgo: 5, interacted: true, tags: ["lead"], status: "OPEN", country: "India", ...over,
});
const c = (id: string, over: Partial<CraftedSpec> = {}): RawContact => craftedContact(base(id, over), now);

const CHANGES = `SELECT change_id::text, account, contact_id, kind, changes, seen_at, source_updated_at FROM contact_changes ORDER BY contact_changes.change_id`;
const asOf = (at: Date) => db.pool.query(`SELECT * FROM contacts_as_of($1) ORDER BY account, id`, [at]).then((r) => r.rows);

describe("converting the history to previous versions", () => {
  it("keeps every change and every state as of any instant, and the history goes on from there", async () => {
    // A contact that was in the mirror before the history began: its insert row is not there.
    await upsert(db, [c("pre", { status: "OPEN" })]);
    await db.pool.query(`DELETE FROM contact_changes WHERE contact_id = 'pre'`);
    await tick();
    await upsert(db, [c("A", { attributes: [{ key: "plan", value: "free" }] }), c("B", { tags: ["vip", "lead"] }), c("C"), c("D")]);
    await upsert(db, [c("A2")], "other");
    await tick();
    await upsert(db, [c("A", { status: "CLOSED", tags: ["lead", "vip"] }), c("B", { tags: ["lead", "vip"] }), c("pre", { status: "REVIEW" })]);
    await tick();
    await upsert(db, [c("A", { status: "REVIEW", attributes: [{ key: "plan", value: "pro" }], email: "a@example.com" }), c("pre", { status: "CLOSED", country: "Nepal" })]);
    await tick();
    await recordSeen(db.pool, 1n, "default", ["A", "B", "pre", "D"]);
    await db.prisma.$transaction((tx) => markUnseenDeleted(tx, 1n, "default", new Date()));
    await tick();
    await upsert(db, [c("C", { status: "CLOSED" })]); // restored, and changed
    await tick();
    await upsert(db, [c("D", { status: "ONHOLD" })]);
    await tick();
    // An untracked change only (seen again): no history row, but the contact's updatedAt moves.
    await upsert(db, [c("D", { status: "ONHOLD", seenHoursAgo: 1 })]);

    const changes = (await db.pool.query(CHANGES)).rows;
    expect(changes.map((r) => r.kind).sort()).toEqual(["delete", ...Array(5).fill("insert"), "restore", ...Array(5).fill("update")]);
    const instants = [...new Set(changes.map((r) => (r.seen_at as Date).getTime()))].flatMap((t) => [t - 1, t, t + 1]).map((t) => new Date(t));
    const { rows: [{ since }] } = await db.pool.query(`SELECT complete_since AS since FROM contact_history_state`);
    const states = new Map<number, unknown[]>();
    for (const at of instants) if (at >= since) states.set(at.getTime(), await asOf(at));
    states.set(Date.now(), await asOf(new Date()));

    const { applied } = await migrate(db.pool, quietLogger());
    expect(applied[0]).toBe(CONVERSION);

    const converted = (await db.pool.query(CHANGES)).rows;
    // The latest change of a contact reads source_updated_at from the contact (its updatedAt now): D's moved.
    const { rows: [d] } = await db.pool.query(`SELECT updated_at FROM contacts WHERE id = 'D'`);
    const latestOfD = changes.filter((r) => r.contact_id === "D").at(-1)!;
    expect(converted.find((r) => r.change_id === latestOfD.change_id)!.source_updated_at).toEqual(d.updated_at);
    expect(d.updated_at).not.toEqual(latestOfD.source_updated_at);
    // An insert shows the lists of the contact's first version, and a reordered list is no new version
    // (lists are sets to the history, docs/sql.md): B's tags were sent reordered later, so its insert shows
    // them in the later order. Same sets; everything else is equal.
    const sets = (rows: typeof changes) => rows.map((r) => ({
      ...r,
      changes: Object.fromEntries(Object.entries(r.changes as Record<string, { old: unknown; new: unknown }>).map(([k, v]) =>
        [k, r.kind === "insert" && Array.isArray(v.new) ? { ...v, new: [...v.new].sort() } : v])),
    }));
    expect(sets(converted.map((r) => (r.change_id === latestOfD.change_id ? { ...r, source_updated_at: latestOfD.source_updated_at } : r)))).toEqual(sets(changes));
    expect(converted.find((r) => r.contact_id === "B")!.changes.tags.new).toEqual(["lead", "vip"]);
    for (const [at, state] of states) expect(await asOf(new Date(at)), new Date(at).toISOString()).toEqual(state);

    // Stored as previous versions: one per change that was not an insert; 'pre' kept its unknown start.
    const { rows: [{ n }] } = await db.pool.query(`SELECT count(*)::int AS n FROM contact_versions`);
    expect(n).toBe(changes.filter((r) => r.kind !== "insert").length);
    const { rows: [pre] } = await db.pool.query(`SELECT valid_from, change_id FROM contact_versions WHERE contact_id = 'pre' ORDER BY valid_to LIMIT 1`);
    expect(pre).toEqual({ valid_from: null, change_id: null });

    // And it goes on: a new change gets a larger id, one version; an insert writes none.
    const maxBefore = BigInt(changes.at(-1)!.change_id);
    await tick();
    await upsert(db, [c("B", { status: "CLOSED", tags: ["lead", "vip"] }), c("E")]);
    const fresh = (await db.pool.query(CHANGES)).rows.filter((r) => BigInt(r.change_id) > maxBefore);
    expect(fresh.map((r) => [r.contact_id, r.kind, r.changes.status ?? null])).toEqual([
      ["B", "update", { old: "OPEN", new: "CLOSED" }],
      ["E", "insert", { old: null, new: "OPEN" }],
    ]);
    const { rows: [{ m }] } = await db.pool.query(`SELECT count(*)::int AS m FROM contact_versions`);
    expect(m).toBe(n + 1);
  });
});
