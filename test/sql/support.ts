// Shared pieces of the SQL-surface tests: fixtures, writing contacts the way the engine does, and reading
// rows back in the shape mapContact() produces (so the two can be compared with toEqual).
import { readFileSync } from "node:fs";
import type { RawContact } from "../../src/api/response.js";
import { upsertContacts, type UpsertCounts } from "../../src/db/sql/upsertContacts.js";
import { CONTACT_COLUMNS, mapContact } from "../../src/records/mapContact.js";
import { inTransaction } from "../../src/db/sql/transaction.js";
import type { TestDatabase } from "../helpers/db.js";

export function loadFixture(name: string): RawContact[] {
  return JSON.parse(readFileSync(new URL(`../fixtures/contacts/${name}`, import.meta.url), "utf8")) as RawContact[];
}

/** One page upsert in its own transaction, exactly as the sync engine writes a page. */
export async function upsert(db: TestDatabase, contacts: RawContact[], account = "default"): Promise<UpsertCounts> {
  return inTransaction(db.pool, (client) => upsertContacts(client, account, contacts));
}

const MAPPED = CONTACT_COLUMNS.map((c) => c.column).filter((c) => c !== "raw");

/** Every mapped column of every row, with timestamps as ISO text, keyed by id. */
export async function mappedRows(db: TestDatabase, account = "default"): Promise<Map<string, Record<string, unknown>>> {
  const result = await db.pool.query(
    `SELECT id, ${MAPPED.map((c) => `"${c}"`).join(", ")} FROM contacts WHERE account = $1`,
    [account],
  );
  const out = new Map<string, Record<string, unknown>>();
  for (const row of result.rows as Record<string, unknown>[]) {
    for (const [key, value] of Object.entries(row)) if (value instanceof Date) row[key] = value.toISOString();
    out.set(row.id as string, row);
  }
  return out;
}

/** What mapContact() says the mapped columns of `contact` are. */
export function expectedRow(contact: RawContact): Record<string, unknown> {
  const { raw: _raw, ...row } = mapContact(contact);
  return row;
}

/** Seconds pass between page writes in real syncs; tests need distinct transaction times too. */
export function tick(ms = 5): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
