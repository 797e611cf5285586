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
// - phone: see phoneColumns() below.
//
// The migration that adds a column back-fills existing rows from `raw` with SQL that mirrors these
// functions (contacts_sync.json_* in prisma/migrations/20261121100100_contact_columns_backfill). A change
// here needs the same change there, in a new migration; test/sql/backfill.test.ts compares the two.
import { instant as readInstant } from "../time.js";
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
  { column: "email_lower", pgType: "text" },
  { column: "phone", pgType: "text" },
  { column: "phone_raw", pgType: "text" },
  { column: "phone_prefix", pgType: "text" },
  { column: "phone_e164", pgType: "text" },
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

// ---------------------------------------------------------------------------------------------------------
// Phones. The API sends {number, prefix} as people typed them: prefix "1", "91" or "+44", numbers with a
// trunk 0, spaces, dashes, sometimes the country code again. `phone_e164` is filled only when exactly one
// reading of what was sent fits the numbering plan of a country listed below; otherwise it is null (never a
// guess). Countries not listed get null: add them here and in contacts_sync.phone_plans() (a new
// migration), and test/sql/backfill.test.ts checks that both agree.
// ---------------------------------------------------------------------------------------------------------

export interface PhonePlan {
  /** The national trunk prefix people dial before the national number, if the country has one. */
  trunk: string | null;
  /** The national significant number (after the country code, without trunk prefix). */
  nsn: string;
}

/** Calling codes (prefix-free, as the ITU assigns them) and their national numbers. */
export const PHONE_PLANS: Readonly<Record<string, PhonePlan>> = Object.freeze({
  "1": { trunk: "1", nsn: "^[2-9][0-9]{2}[2-9][0-9]{6}$" }, // NANP: NXX NXX XXXX
  "7": { trunk: "8", nsn: "^[3489][0-9]{9}$" }, // Russia, Kazakhstan
  "20": { trunk: "0", nsn: "^[1-9][0-9]{7,9}$" }, // Egypt
  "27": { trunk: "0", nsn: "^[1-8][0-9]{8}$" }, // South Africa
  "31": { trunk: "0", nsn: "^[1-9][0-9]{8}$" }, // Netherlands
  "33": { trunk: "0", nsn: "^[1-9][0-9]{8}$" }, // France
  "34": { trunk: null, nsn: "^[5-9][0-9]{8}$" }, // Spain
  "39": { trunk: null, nsn: "^(0[0-9]{5,10}|3[0-9]{8,9})$" }, // Italy: the leading 0 is part of the number
  "44": { trunk: "0", nsn: "^[1-9][0-9]{8,9}$" }, // United Kingdom
  "49": { trunk: "0", nsn: "^[1-9][0-9]{5,12}$" }, // Germany
  "52": { trunk: null, nsn: "^[1-9][0-9]{9}$" }, // Mexico
  "55": { trunk: "0", nsn: "^[1-9][0-9]{9,10}$" }, // Brazil
  "60": { trunk: "0", nsn: "^[1-9][0-9]{7,9}$" }, // Malaysia
  "61": { trunk: "0", nsn: "^[2-478][0-9]{8}$" }, // Australia
  "62": { trunk: "0", nsn: "^[1-9][0-9]{7,11}$" }, // Indonesia
  "63": { trunk: "0", nsn: "^[2-9][0-9]{8,9}$" }, // Philippines
  "65": { trunk: null, nsn: "^[689][0-9]{7}$" }, // Singapore
  "81": { trunk: "0", nsn: "^[1-9][0-9]{8,9}$" }, // Japan
  "86": { trunk: "0", nsn: "^[1-9][0-9]{9,10}$" }, // China
  "91": { trunk: "0", nsn: "^[1-9][0-9]{9}$" }, // India
  "92": { trunk: "0", nsn: "^[1-9][0-9]{8,9}$" }, // Pakistan
  "234": { trunk: "0", nsn: "^[1-9][0-9]{7,9}$" }, // Nigeria
  "880": { trunk: "0", nsn: "^[1-9][0-9]{7,9}$" }, // Bangladesh
  "966": { trunk: "0", nsn: "^[1-9][0-9]{7,8}$" }, // Saudi Arabia
  "971": { trunk: "0", nsn: "^[1-9][0-9]{7,8}$" }, // United Arab Emirates
});

// The same character classes appear in the SQL mirror, character for character.
const NUMBER_SEPARATORS = /[ \t\u00A0()./-]/g;
const PREFIX_SEPARATORS = /[ \t\u00A0()+-]/g;
const planRegex = new Map(Object.entries(PHONE_PLANS).map(([cc, plan]) => [cc, new RegExp(plan.nsn)]));

/** E.164 ("+919876543210") when exactly one reading of prefix + number fits a known plan, else null. */
export function phoneE164(prefix: string | null, number: string | null): string | null {
  if (number === null) return null;
  let digits = number.replace(NUMBER_SEPARATORS, "");
  let international = false;
  if (digits.startsWith("+")) {
    international = true;
    digits = digits.slice(1);
  } else if (digits.startsWith("00")) {
    international = true;
    digits = digits.slice(2);
  }
  if (!/^[0-9]+$/.test(digits)) return null;

  let cc: string | null = prefix === null ? null : prefix.replace(PREFIX_SEPARATORS, "");
  if (cc !== null && cc.startsWith("00")) cc = cc.slice(2);
  if (cc === "") cc = null;
  if (cc !== null && !/^[0-9]{1,3}$/.test(cc)) return null;

  let national: string;
  if (international) {
    const found = [digits.slice(0, 1), digits.slice(0, 2), digits.slice(0, 3)].find((c) => c in PHONE_PLANS);
    if (found === undefined || (cc !== null && cc !== found)) return null;
    cc = found;
    national = digits.slice(found.length);
  } else {
    if (cc === null) return null;
    national = digits;
  }
  const plan = PHONE_PLANS[cc];
  const nsn = planRegex.get(cc);
  if (!plan || !nsn) return null;

  const readings = new Set([national]);
  if (plan.trunk !== null && national.startsWith(plan.trunk)) readings.add(national.slice(plan.trunk.length));
  // The country code typed again in the number ("91 98765 43210" with prefix "91").
  if (!international && national.startsWith(cc)) readings.add(national.slice(cc.length));
  const valid = [...readings].filter((r) => nsn.test(r));
  return valid.length === 1 ? `+${cc}${valid[0]}` : null;
}

export function phoneAsSent(phone: Json): string | null {
  const p = obj(phone);
  if (!p) return text(phone);
  const number = text(p.number);
  if (number === null) return null;
  const prefix = text(p.prefix);
  return prefix === null ? number : `${prefix.startsWith("+") ? "" : "+"}${prefix} ${number}`;
}

export interface PhoneColumns {
  /** E.164 when known, else the number as sent with its prefix ("+91 98765-43210"). */
  phone: string | null;
  phone_raw: string | null;
  phone_prefix: string | null;
  phone_e164: string | null;
}

/** `phone` is {number, prefix}; a plain string or number is taken as the number, without prefix. */
export function phoneColumns(phone: Json): PhoneColumns {
  const p = obj(phone);
  const raw = p ? text(p.number) : text(phone);
  const prefix = p ? text(p.prefix) : null;
  const e164 = phoneE164(prefix, raw);
  return { phone: e164 ?? phoneAsSent(phone), phone_raw: raw, phone_prefix: prefix, phone_e164: e164 };
}

export function mapContact(input: RawContact): ContactRow {
  const raw = withoutNul(input);
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
    ...phoneColumns(contact?.phone),
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
  };
}
