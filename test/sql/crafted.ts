// A small, hand-made data set whose every view answer is known (written out in views.test.ts and in the
// documented answers of docs/sql.md). Times are relative to the moment the set is written, because the
// activity views compare last_seen_at with now().
import type { RawContact } from "../../src/api/response.js";
import type { TestDatabase } from "../helpers/db.js";
import { upsert } from "./support.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export interface CraftedSpec {
  id: string;
  platform: string[];
  createdAt: string;
  /** Hours before now; null = never seen. */
  seenHoursAgo: number | null;
  interacted: boolean;
  tags: unknown;
  segments?: string[];
  status: string;
  country?: string;
  email?: string;
  phone?: { number: string; prefix: string };
  attributes?: { key: string; value: unknown }[];
  name?: string;
  hasOrdered?: boolean;
}

export function craftedContact(spec: CraftedSpec, now: number): RawContact {
  const seen = spec.seenHoursAgo === null ? null : new Date(now - spec.seenHoursAgo * HOUR).toISOString();
  return {
    _id: spec.id,
    _bot: "65a1f4519b7e4d0012c8a45e",
    _customer: "65a1f3c29b7e4d0012c8a417",
    platform: spec.platform,
    secondaryPlatform: [],
    isSubscriber: true,
    websiteVisits: 1,
    isOnline: false,
    userInteracted: spec.interacted,
    profile: {
      userDetails: {
        name: spec.name ?? `Contact ${spec.id}`,
        contact: { email: spec.email, phone: spec.phone },
        tags: spec.tags,
        attributes: spec.attributes ?? [],
        country: spec.country,
      },
    },
    status: spec.status,
    lastMessage: seen ? { by: "user", at: seen } : undefined,
    isContact: true,
    isImported: false,
    segments: spec.segments ?? [],
    isLiveChatActive: false,
    hasOrdered: { status: spec.hasOrdered ?? false },
    unreadMessages: 0,
    lastSeenAt: seen,
    createdAt: spec.createdAt,
    updatedAt: seen ?? spec.createdAt,
  };
}

/** The crafted set: account "default" (ids c01..c08) and one contact of account "other". */
export const CRAFTED: CraftedSpec[] = [
  { id: "c01", platform: ["WHATSAPP"], createdAt: "2026-01-10T05:00:00.000Z", seenHoursAgo: 2, interacted: true, tags: ["vip", "lead"], segments: ["S1"], status: "OPEN", country: "India",
    email: "Priya@Example.com", phone: { number: "098765 43210", prefix: "91" }, attributes: [{ key: "plan", value: "pro" }, { key: "age", value: 31 }], hasOrdered: true },
  { id: "c02", platform: ["WHATSAPP"], createdAt: "2026-01-10T23:30:00.000Z", seenHoursAgo: 3 * 24, interacted: true, tags: ["lead", "lead"], status: "OPEN", country: "India",
    attributes: [{ key: "plan", value: "free" }, { key: "consent", value: true }, { key: "note", value: null }] },
  { id: "c03", platform: ["WEBSITE"], createdAt: "2026-01-10T10:00:00.000Z", seenHoursAgo: 10 * 24, interacted: true, tags: ["vip"], segments: ["S1", "S2"], status: "CLOSED", country: "United States",
    email: "james@acme-corp.com", hasOrdered: true },
  { id: "c04", platform: ["WEBSITE"], createdAt: "2026-01-11T00:00:00.000Z", seenHoursAgo: 40 * 24, interacted: true, tags: [], status: "CLOSED" },
  { id: "c05", platform: ["TELEGRAM"], createdAt: "2026-01-11T12:00:00.000Z", seenHoursAgo: null, interacted: false, tags: "newsletter", status: "OPEN", country: "India" },
  { id: "c06", platform: ["WHATSAPP"], createdAt: "2026-01-10T08:00:00.000Z", seenHoursAgo: 1, interacted: true, tags: ["vip"], status: "OPEN", country: "India" }, // marked deleted by reconcile
  { id: "c07", platform: ["WHATSAPP"], createdAt: "2026-01-10T09:00:00.000Z", seenHoursAgo: 1, interacted: true, tags: ["vip"], status: "DELETED", country: "India" }, // deleted in the inbox
  { id: "c08", platform: [], createdAt: "2026-01-11T18:00:00.000Z", seenHoursAgo: 0.5, interacted: false, tags: [], status: "OPEN" },
];
export const CRAFTED_OTHER: CraftedSpec = { id: "o01", platform: ["WHATSAPP"], createdAt: "2026-01-10T06:00:00.000Z", seenHoursAgo: 5, interacted: true, tags: ["vip"], status: "OPEN", country: "India" };

/** Writes the crafted set as the engine would (upserts, then a reconcile's deletion of c06). */
export async function writeCrafted(db: TestDatabase): Promise<{ now: number }> {
  const now = Date.now();
  await upsert(db, CRAFTED.map((s) => craftedContact(s, now)));
  await upsert(db, [craftedContact(CRAFTED_OTHER, now)], "other");
  await db.pool.query(`UPDATE contacts SET deleted_at = now() WHERE account = 'default' AND id = 'c06'`);
  return { now };
}

/**
 * A second sync over the crafted set: c01's conversation is closed, c02 is tagged vip. Gives the history
 * something to show (docs/sql.md's history examples).
 */
export async function writeCraftedSecondSync(db: TestDatabase, now: number): Promise<void> {
  const changed = CRAFTED.filter((s) => s.id === "c01" || s.id === "c02").map((s) =>
    s.id === "c01" ? { ...s, status: "CLOSED" } : { ...s, tags: ["lead", "vip"] },
  );
  await upsert(db, changed.map((s) => craftedContact(s, now)));
}

export { DAY, HOUR };
