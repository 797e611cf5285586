// What an incremental reader (a dbt model filtering on synced_at) relies on: every write of a row moves
// synced_at, deletions included, and names its run in sync_run_id; a row not written keeps both.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RawContact } from "../../src/api/response.js";
import { markUnseenDeleted, recordSeen } from "../../src/db/sql/reconcileDeletes.js";
import { startRun } from "../../src/db/sql/runs.js";
import { upsertContacts } from "../../src/db/sql/upsertContacts.js";
import { inTransaction } from "../../src/db/sql/transaction.js";
import { createDatabase, type TestDatabase } from "../helpers/db.js";
import { tick } from "./support.js";

let db: TestDatabase;
beforeAll(async () => {
  db = await createDatabase();
});
afterAll(async () => db?.drop());

const contact = (id: string, status = "OPEN"): RawContact => ({ _id: id, status, createdAt: "2024-01-01T00:00:00Z" }) as RawContact;

async function row(id: string): Promise<{ synced_at: Date; sync_run_id: string | null; deleted_at: Date | null }> {
  const { rows } = await db.pool.query(`SELECT synced_at, sync_run_id::text, deleted_at FROM contacts WHERE id = $1`, [id]);
  return rows[0];
}

const write = (rows: RawContact[], runId: bigint | null) => inTransaction(db.pool, (client) => upsertContacts(client, "default", rows, runId));

describe("change tracking", () => {
  it("an insert, a change and a restore move synced_at and name their run; an unchanged row keeps both", async () => {
    await write([contact("a"), contact("b")], 11n);
    const first = await row("a");
    expect(first.sync_run_id).toBe("11");
    await tick(10);
    await write([contact("a"), contact("b", "CLOSED")], 12n);
    expect(await row("a")).toEqual(first); // unchanged: not written
    const changed = await row("b");
    expect(changed.sync_run_id).toBe("12");
    expect(changed.synced_at.getTime()).toBeGreaterThan(first.synced_at.getTime());
  });

  it("a deletion moves synced_at and names the reconcile pass", async () => {
    const before = await row("a");
    const { rows: [last] } = await db.pool.query(`SELECT max(synced_at) AS t FROM contacts`);
    await tick(10);
    await recordSeen(db.pool, 21n, "default", ["b"]);
    await db.prisma.$transaction(async (tx) => {
      expect(await markUnseenDeleted(tx, 21n, "default", new Date())).toBe(1);
    });
    const after = await row("a");
    expect(after.deleted_at).not.toBeNull();
    expect(after.sync_run_id).toBe("21");
    expect(after.synced_at.getTime()).toBeGreaterThan(before.synced_at.getTime());
    // The incremental reader's query finds it, through the index on synced_at.
    const { rows } = await db.pool.query(`SELECT id FROM contacts WHERE synced_at > $1`, [last.t]);
    expect(rows.map((r) => r.id)).toEqual(["a"]);

    await tick(10);
    await write([contact("a")], 22n);
    const restored = await row("a");
    expect([restored.deleted_at, restored.sync_run_id]).toEqual([null, "22"]);
    expect(restored.synced_at.getTime()).toBeGreaterThan(after.synced_at.getTime());
  });

  it("without a run id from the caller, the account's run under way is named", async () => {
    const runId = await startRun(db.prisma, "default", "incremental", { start: null, end: null });
    await write([contact("c")], null);
    expect((await row("c")).sync_run_id).toBe(String(runId));
  });

  it("synced_at is indexed", async () => {
    const { rows } = await db.pool.query(`SELECT indexdef FROM pg_indexes WHERE indexname = 'contacts_synced_at_idx'`);
    expect(rows[0]?.indexdef).toMatch(/\(synced_at\)/);
  });
});
