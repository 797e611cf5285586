// From a contact as the API sends it to a row of `contacts`. Pure and total: any JSON object with an
// `_id` maps to a row; fields of unexpected types become null (or are coerced where the intent is plain,
// e.g. a single tag sent as a string), and `raw` keeps exactly what was sent for anything not mapped.
//
// Tolerances, column by column (docs/sql.md repeats them for analysts):
// - text columns: a string is kept as sent (not trimmed); a blank string (only whitespace) is null; a number
//   or boolean becomes its text; anything else (object, list, null) is null.
// - list columns (tags, segments, platforms, secondary_platforms): a list keeps its scalar entries as text
//   and takes `name` (else `_id`) from object entries; a lone scalar is a list of one; anything else is [].
// - booleans: only JSON true/false; anything else (including "true" as text) is null.
// - counts: only whole JSON numbers within PostgreSQL's integer range; anything else is null.
// - instants: ISO-8601 with a zone ("2024-06-05T19:05:50.876Z", "+05:30"), a bare date (midnight UTC), or
//   epoch milliseconds, from 1970 to 9999; anything else is null. Deliberately stricter than JavaScript's
//   Date parser, which reads "2024-02-30" as 1 March and zone-less times in the server's own time zone.
// - attributes: the API's list of {key, value} becomes one flat object; entries without a usable key are
//   skipped, a missing value is null, the last entry wins for a repeated key; an object is taken as it is.
// - phone: see phone.ts (libphonenumber-js).
//
// A change to what any column gets from `raw` needs MAPPING_VERSION raised: rows written by an older
// mapping are then re-derived from `raw` (src/db/sql/remapContacts.ts, by the worker after its passes and
// by `contacts-sync remap`). No SQL copy of these rules is needed for that.
import { instant as readInstant } from "../time.js";
import type { RawContact } from "../api/response.js";
import type { ContactModel } from "../generated/prisma/models/Contact.js";
import { parsePhone, type PhoneColumns, type PhoneContext } from "./phone.js";

/**
 * The version of the rules below, stored in each row's `mapping_version`. History: 1 = the first typed
 * columns (and their SQL back-fill); 2 = phones by libphonenumber-js, phone_country, phone_type.
 */
export const MAPPING_VERSION = 2;

/** One column of `contacts` filled from `raw`, with the PostgreSQL type used to read it from JSON. */
export interface ColumnSpec {
  column: MappedColumn;
  pgType: string;
}

/**
 * The columns every upsert writes, in order. The upsert SQL is built from this list, so a new column is a
 * migration plus an entry here plus its line in mapContact().
 */
export const CONTACT_COLUMNS: ColumnSpec[] = [
  { column: "name", pgType: "text" },
  { column: "email", pgType: "text" },
  { column: "email_lower", pgType: "text" },
  { column: "phone", pgType: "text" },
  { column: "phone_raw", pgType: "text" },
  { column: "phone_prefix", pgType: "text" },
  { column: "phone_e164", pgType: "text" },
  { column: "phone_country", pgType: "text" },
  { column: "phone_type", pgType: "text" },
  { column: "country", pgType: "text" },
  { column: "tags", pgType: "text[]" },
  { column: "segments", pgType: "text[]" },
  { column: "attributes", pgType: "jsonb" },
  { column: "status", pgType: "text" },
  { column: "platforms", pgType: "text[]" },
  { column: "secondary_platforms", pgType: "text[]" },
  { column: "whatsapp_number", pgType: "text" },
  { column: "telegram_username", pgType: "text" },
  { column: "instagram_profile_id", pgType: "text" },
  { column: "facebook_profile_id", pgType: "text" },
  { column: "is_online", pgType: "boolean" },
  { column: "user_interacted", pgType: "boolean" },
  { column: "is_subscriber", pgType: "boolean" },
  { column: "is_live_chat_active", pgType: "boolean" },
  { column: "has_ordered", pgType: "boolean" },
  { column: "is_imported", pgType: "boolean" },
  { column: "website_visits", pgType: "integer" },
  { column: "unread_messages", pgType: "integer" },
  { column: "last_message_by", pgType: "text" },
  { column: "last_message_at", pgType: "timestamptz" },
  { column: "bot_id", pgType: "text" },
  { column: "customer_id", pgType: "text" },
  { column: "last_seen_at", pgType: "timestamptz" },
  { column: "created_at", pgType: "timestamptz" },
  { column: "updated_at", pgType: "timestamptz" },
  { column: "raw", pgType: "jsonb" },
  { column: "mapping_version", pgType: "integer" },
];

/** snake_case of a camelCase name: the columns' names are the Prisma fields' (test/sql/prisma.test.ts checks every @map). */
type Snake<S extends string> = S extends `${infer Head}${infer Tail}`
  ? `${Head extends Lowercase<Head> ? Head : `_${Lowercase<Head>}`}${Snake<Tail>}`
  : S;

/** Columns of `contacts` as the Prisma model declares them (prisma/schema.prisma, model Contact). */
export type ContactColumnName = Snake<keyof ContactModel & string>;

/** Bookkeeping columns the mirror writes itself, not the mapping. */
type Bookkeeping = "account" | "id" | "synced_at" | "sync_run_id" | "deleted_at" | "valid_from" | "change_id";

/** A column the mapping fills: a misspelt or removed column fails to compile here and in mapContact(). */
export type MappedColumn = Exclude<ContactColumnName, Bookkeeping>;

/** A row of `contacts` as the mapping produces it: exactly the mapped columns, plus the id. */
export type ContactRow = { id: string } & { [K in MappedColumn]: unknown };

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

export function bool(value: Json): boolean | null {
  return typeof value === "boolean" ? value : null;
}

const INT_MIN = -2_147_483_648;
const INT_MAX = 2_147_483_647;

export function count(value: Json): number | null {
  return typeof value === "number" && Number.isInteger(value) && value >= INT_MIN && value <= INT_MAX ? value : null;
}

/** Instants are read by the program's one strict parser (src/time.ts). */
export function instant(value: Json): string | null {
  return readInstant(value);
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

/** The API's attribute list as one flat object (see the tolerances at the top). */
export function attributeMap(value: Json): Record<string, Json> {
  const plain = obj(value);
  if (plain) return { ...plain };
  const out = new Map<string, Json>();
  if (Array.isArray(value)) {
    for (const entry of value) {
      const e = obj(entry);
      const key = text(e?.key);
      if (!e || key === null) continue;
      out.set(key, e.value === undefined ? null : e.value);
    }
  }
  // fromEntries defines own properties, so a key such as "__proto__" stays an ordinary key.
  return Object.fromEntries(out);
}

/** Lower-cases ASCII letters only: PostgreSQL's lower() depends on the database's locale, this does not. */
export function emailLower(email: string | null): string | null {
  return email === null ? null : email.trim().replace(/[A-Z]+/g, (s) => s.toLowerCase());
}

/** The number as sent, with its prefix ("+91 98765-43210"): `phone` when there is no E.164. */
export function phoneAsSent(phone: Json): string | null {
  const p = obj(phone);
  if (!p) return text(phone);
  const number = text(p.number);
  if (number === null) return null;
  const prefix = text(p.prefix);
  return prefix === null ? number : `${prefix.startsWith("+") ? "" : "+"}${prefix} ${number}`;
}

/** `phone` is {number, prefix}; a plain string or number is taken as the number, without prefix. See phone.ts. */
export function phoneColumns(phone: Json, context: PhoneContext = {}): PhoneColumns {
  const p = obj(phone);
  const raw = p ? text(p.number) : text(phone);
  const prefix = p ? text(p.prefix) : null;
  const parsed = parsePhone(prefix, raw, context);
  return { phone: parsed.phone_e164 ?? phoneAsSent(phone), phone_raw: raw, phone_prefix: prefix, ...parsed };
}

let defaultPhoneRegion: string | null = null;

/**
 * The account's settings that the mapping depends on (DEFAULT_PHONE_REGION), set once at start-up by
 * openApp(). Module state rather than a parameter because mapContact is passed to Array#map as it is.
 */
export function configureMapping(options: { defaultPhoneRegion?: string | null }): void {
  defaultPhoneRegion = options.defaultPhoneRegion ?? null;
}

/** True when a string anywhere in `value` (keys included) holds the NUL character; copies nothing. */
export function hasNul(value: unknown): boolean {
  if (typeof value === "string") return value.includes("\u0000");
  if (Array.isArray(value)) return value.some(hasNul);
  if (typeof value === "object" && value !== null) {
    for (const k in value) if (k.includes("\u0000") || hasNul((value as Record<string, unknown>)[k])) return true;
  }
  return false;
}

/** The row of a contact; `raw` is the contact itself unless a NUL had to be replaced (then a cleaned copy). */
export function mapContact(input: RawContact): ContactRow {
  return mapClean(hasNul(input) ? withoutNul(input) : input);
}

/**
 * A page of contacts as the write path sends it: one array literal per column (src/db/sql/upsertContacts.ts
 * binds them to `unnest`), rows in id order, except the JSON columns (raw, attributes), which are each one
 * JSON array text of the page's values: one JSON.stringify per page, no per-contact string to join or escape.
 * The text is also where a NUL would show (as the escape \u0000): only then are the page's contacts that
 * hold one copied to clean them.
 */
export interface ContactPage {
  ids: string[];
  /**
   * Per CONTACT_COLUMNS entry, one text: a PostgreSQL array literal of the rows' values (text, ISO instants,
   * booleans, integers; a list column's values are themselves array literals), or for a JSON column one JSON
   * array text.
   */
  columns: string[];
  /**
   * Set when each row's `raw` comes from the answer's own bytes (PageAnswer.json) rather than from `columns`
   * (whose raw entry is then empty): the JSON, and each row's position (from 1) in its `data` list, as an
   * integer array literal. The contacts are never serialised again.
   */
  rawFrom?: { json: Buffer; positions: string };
}

/** The answer a page came from: its JSON bytes (with no NUL escape) and the rows parsed from them, in order. */
export interface PageSource {
  json: Buffer;
  rows: readonly RawContact[];
}

const LIST_COLUMNS = new Set(CONTACT_COLUMNS.filter((c) => c.pgType === "text[]").map((c) => c.column));
export const JSON_COLUMNS: ReadonlySet<MappedColumn> = new Set(CONTACT_COLUMNS.filter((c) => c.pgType === "jsonb").map((c) => c.column));

/**
 * A PostgreSQL array literal of one column's values: NULL, or the value's text quoted (and escaped) as
 * PostgreSQL reads it for the array's type. Exactly what pg's own array serialiser writes (test/sql/writePath.test.ts compares
 * them), built here in one pass: pg's escapes every element with two regular expressions. A list column's
 * value is itself such a literal of its texts ({"a","b\"c"}), quoted again as an element of its column.
 */
export function arrayLiteral(values: readonly (string | number | boolean | null)[]): string {
  let out = "{";
  for (let i = 0; i < values.length; i += 1) {
    const v = values[i]!;
    if (i > 0) out += ",";
    if (v === null) out += "NULL";
    else if (typeof v === "string") out += "\"" + (/[\\"]/.test(v) ? v.replace(/[\\"]/g, "\\$&") : v) + "\"";
    else out += "\"" + String(v) + "\"";
  }
  return out + "}";
}

export function mapPage(contacts: readonly RawContact[], source?: PageSource): ContactPage {
  // Rows in id order: concurrent lanes that share a boundary row lock rows in the same order (no deadlock).
  let sorted = [...contacts].sort((a, b) => (a._id < b._id ? -1 : a._id > b._id ? 1 : 0));
  let rawText = "";
  let rawFrom: ContactPage["rawFrom"];
  // JSON forbids a raw NUL in a string and the source has no \u0000 escape: no contact holds a NUL. A page
  // whose contacts are not all the source's own rows (a read that merged answers) is serialised instead.
  const position = new Map<RawContact, number>();
  source?.rows.forEach((row, i) => position.set(row, i + 1));
  const positions = source ? sorted.map((c) => position.get(c)) : [];
  if (source && !positions.includes(undefined)) {
    rawFrom = { json: source.json, positions: `{${positions.join(",")}}` };
  } else {
    rawText = JSON.stringify(sorted);
    if (rawText.includes("\\u0000")) {
      sorted = sorted.map((c) => (hasNul(c) ? withoutNul(c) : c));
      rawText = JSON.stringify(sorted);
    }
  }
  const ids: string[] = [];
  const columns = CONTACT_COLUMNS.map(() => []) as (string | number | boolean | null)[][];
  const json = new Map<MappedColumn, unknown[]>([...JSON_COLUMNS].map((c) => [c, []]));
  for (const clean of sorted) {
    const row = mapClean(clean);
    ids.push(row.id);
    for (let i = 0; i < CONTACT_COLUMNS.length; i += 1) {
      const column = CONTACT_COLUMNS[i]!.column;
      if (column === "raw") continue;
      const value = row[column];
      if (JSON_COLUMNS.has(column)) json.get(column)!.push(value);
      else columns[i]!.push(LIST_COLUMNS.has(column) ? arrayLiteral(value as string[]) : (value as string | number | boolean | null));
    }
  }
  return {
    ids,
    columns: CONTACT_COLUMNS.map((c, i) => (c.column === "raw" ? rawText : JSON_COLUMNS.has(c.column) ? JSON.stringify(json.get(c.column)) : arrayLiteral(columns[i]!))),
    ...(rawFrom ? { rawFrom } : {}),
  };
}

function mapClean(raw: RawContact): ContactRow {
  const profile = obj(raw.profile);
  const details = obj(profile?.userDetails);
  const contact = obj(details?.contact);
  const lastMessage = obj(raw.lastMessage);
  const email = text(contact?.email);
  return {
    id: raw._id,
    name: text(details?.userProvidedName) ?? text(details?.name),
    email,
    email_lower: emailLower(email),
    ...phoneColumns(contact?.phone, { country: text(details?.country), defaultRegion: defaultPhoneRegion }),
    country: text(details?.country),
    tags: textList(details?.tags),
    segments: textList(raw.segments),
    attributes: attributeMap(details?.attributes),
    status: text(raw.status),
    platforms: textList(raw.platform),
    secondary_platforms: textList(raw.secondaryPlatform),
    whatsapp_number: text(details?.whatsAppNumber),
    telegram_username: text(details?.telegramUserName),
    instagram_profile_id: text(details?.instagramProfileId),
    facebook_profile_id: text(details?.facebookProfileId),
    is_online: bool(raw.isOnline),
    user_interacted: bool(raw.userInteracted),
    is_subscriber: bool(raw.isSubscriber),
    is_live_chat_active: bool(raw.isLiveChatActive),
    // Seen as {status: boolean}; a bare boolean means the same.
    has_ordered: bool(obj(raw.hasOrdered)?.status) ?? bool(raw.hasOrdered),
    is_imported: bool(raw.isImported),
    website_visits: count(raw.websiteVisits),
    unread_messages: count(raw.unreadMessages),
    last_message_by: text(lastMessage?.by),
    last_message_at: instant(lastMessage?.at),
    bot_id: text(raw._bot),
    customer_id: text(raw._customer),
    last_seen_at: instant(raw.lastSeenAt),
    created_at: instant(raw.createdAt),
    updated_at: instant(raw.updatedAt),
    raw,
    mapping_version: MAPPING_VERSION,
  };
}
