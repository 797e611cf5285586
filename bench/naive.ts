// The naive baseline most hand-written syncs start from: one Prisma `upsert` per contact, awaited one after
// the other, through the product's own Prisma client (engine-free, adapter-pg). Only the writes are timed:
// the contacts are already mapped in memory, so the baseline pays no HTTP or JSON cost (generous to it).
import { performance } from "node:perf_hooks";
import { openDatabase } from "../src/db/client.js";
import type { Contact } from "../src/double/generate.js";
import type { RawContact } from "../src/api/response.js";
import { CONTACT_COLUMNS, mapContact } from "../src/records/mapContact.js";
import { Prisma } from "../src/generated/prisma/client.js";
import { postgresCpuSeconds } from "./cpu.js";

export interface NaiveMeasure {
  writeMs: number;
  /** CPU seconds of this (client) process and of the local PostgreSQL server during the writes. */
  cpu: { client: number; postgres: number | null };
  rows: number;
}

const camel = (column: string) => column.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** The row as Prisma model fields: every mapped column the model knows, timestamps as Dates. */
function modelData(row: Record<string, unknown>): Record<string, unknown> {
  const fields = Prisma.ContactScalarFieldEnum as Record<string, string>;
  const data: Record<string, unknown> = {};
  for (const c of CONTACT_COLUMNS) {
    const name = camel(c.column);
    if (!(name in fields)) continue;
    const value = row[c.column];
    if (value === null && c.pgType === "jsonb") data[name] = Prisma.JsonNull;
    else data[name] = c.pgType === "timestamptz" && typeof value === "string" ? new Date(value) : value;
  }
  return data;
}

export async function runNaive(databaseUrl: string, contacts: readonly Contact[], postmasterPid: number | null, account = "default"): Promise<NaiveMeasure> {
  const db = openDatabase(databaseUrl);
  try {
    const rows = contacts.map((c) => mapContact(c as unknown as RawContact));
    const pgBefore = postgresCpuSeconds(postmasterPid);
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    for (const row of rows) {
      const data = modelData(row);
      await db.prisma.contact.upsert({
        where: { account_id: { account, id: row.id } },
        create: { account, id: row.id, ...data, syncedAt: new Date() } as Prisma.ContactCreateInput,
        update: { ...data, syncedAt: new Date(), deletedAt: null } as Prisma.ContactUpdateInput,
      });
    }
    const writeMs = performance.now() - started;
    const client = process.cpuUsage(cpuBefore);
    const pgAfter = postgresCpuSeconds(postmasterPid);
    const cpu = { client: (client.user + client.system) / 1e6, postgres: pgBefore === null || pgAfter === null ? null : pgAfter - pgBefore };
    const count = await db.prisma.contact.count();
    return { writeMs, cpu, rows: count };
  } finally {
    await db.close();
  }
}
