// From a contact as the API sends it to a row of `contacts`. Pure and total: any JSON object with an
// `_id` maps to a row; fields of unexpected types become null (or are coerced where the intent is plain,
// e.g. a single tag sent as a string), and `raw` keeps exactly what was sent for anything not mapped.
import type { RawContact } from "../api/response.js";

/** One column of `contacts` filled from `raw`, with the PostgreSQL type used to read it from JSON. */
export interface ColumnSpec {
  column: string;
  pgType: string;
}

/**
 * The columns every upsert writes, in order. The upsert SQL is built from this list, so a new column is a
 * migration plus an entry here plus its line in mapContact().
 */
export const CONTACT_COLUMNS: ColumnSpec[] = [
  { column: "name", pgType: "text" },
  { column: "email", pgType: "text" },
  { column: "phone", pgType: "text" },
  { column: "tags", pgType: "text[]" },
  { column: "segments", pgType: "text[]" },
  { column: "status", pgType: "text" },
  { column: "platforms", pgType: "text[]" },
  { column: "last_seen_at", pgType: "timestamptz" },
  { column: "created_at", pgType: "timestamptz" },
  { column: "updated_at", pgType: "timestamptz" },
  { column: "raw", pgType: "jsonb" },
];

export type ContactRow = { id: string } & Record<string, unknown>;

type Json = unknown;

function obj(value: Json): Record<string, Json> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, Json>) : undefined;
}

export function text(value: Json): string | null {
  if (typeof value === "string") return value.trim() === "" ? null : value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return null;
}

/** A list of strings: arrays keep their scalar entries; a lone string is taken as a list of one. */
export function textList(value: Json): string[] {
  if (Array.isArray(value)) {
    const out: string[] = [];
    for (const v of value) {
      const t = text(v) ?? text(obj(v)?.name) ?? text(obj(v)?._id);
      if (t !== null) out.push(t);
    }
    return out;
  }
  const single = text(value);
  return single === null ? [] : [single];
}

/** An instant as ISO text, or null when the value is not a date PostgreSQL and we agree on. */
export function instant(value: Json): string | null {
  if (typeof value !== "string" && typeof value !== "number") return null;
  const date = new Date(value);
  const t = date.getTime();
  // Years outside 1970..9999 are data errors, not contacts from the future or the dinosaurs.
  if (Number.isNaN(t) || t < 0 || t > 253402300799999) return null;
  return date.toISOString();
}

/**
 * PostgreSQL refuses the NUL character in text and jsonb. It is replaced by U+FFFD everywhere (keys and
 * values), so that one odd character cannot stop the whole mirror; documented in the README.
 */
export function withoutNul<T>(value: T): T {
  if (typeof value === "string") return (value.includes("\u0000") ? value.replaceAll("\u0000", "\uFFFD") : value) as T;
  if (Array.isArray(value)) return value.map(withoutNul) as T;
  if (typeof value === "object" && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[withoutNul(k)] = withoutNul(v);
    return out as T;
  }
  return value;
}

export function phoneAsSent(phone: Json): string | null {
  const p = obj(phone);
  if (!p) return text(phone);
  const number = text(p.number);
  if (number === null) return null;
  const prefix = text(p.prefix);
  return prefix === null ? number : `${prefix.startsWith("+") ? "" : "+"}${prefix} ${number}`;
}

export function mapContact(input: RawContact): ContactRow {
  const raw = withoutNul(input);
  const profile = obj(raw.profile);
  const details = obj(profile?.userDetails);
  const contact = obj(details?.contact);
  return {
    id: raw._id,
    name: text(details?.userProvidedName) ?? text(details?.name),
    email: text(contact?.email),
    phone: phoneAsSent(contact?.phone),
    tags: textList(details?.tags),
    segments: textList(raw.segments),
    status: text(raw.status),
    platforms: textList(raw.platform),
    last_seen_at: instant(raw.lastSeenAt),
    created_at: instant(raw.createdAt),
    updated_at: instant(raw.updatedAt),
    raw,
  };
}
