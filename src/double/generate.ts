// Realistic, deterministic inbox contacts in the shape of the public fixture (see shared/notes/inbox-api.md):
// messy phones, names in many scripts, missing profile parts, unknown extra fields, a bulk-import cluster
// of contacts sharing one createdAt. Built to make a million contacts in a few seconds: constant strings,
// arrays and small objects are shared (and frozen) between contacts, so code that edits a contact must
// replace those values, never mutate them in place (the store's mutations do exactly that).
import { Rng, weights } from "./rng.js";

export type Platform = "WHATSAPP" | "WEBSITE" | "TELEGRAM" | "FACEBOOK" | "INSTAGRAM";
export type ContactStatus = "OPEN" | "INPROGRESS" | "REVIEW" | "ONHOLD" | "DEPENDANCY" | "CLOSED" | "DELETED";
export const CONTACT_STATUSES: readonly ContactStatus[] = Object.freeze([
  "OPEN", "INPROGRESS", "REVIEW", "ONHOLD", "DEPENDANCY", "CLOSED", "DELETED",
]);

export interface Phone { number: string; prefix: string }
export interface Attribute { key: string; value: string | number | boolean }
export interface Note { _id: string; note: string; createdAt: string }
export interface UserDetails {
  name?: string;
  userProvidedName?: string;
  contact?: { email?: string; phone?: Phone };
  tags: readonly string[];
  attributes: readonly Attribute[];
  country?: string;
  whatsAppNumber?: string;
  telegramUserName?: string;
  instagramProfileId?: string;
  facebookProfileId?: string;
}

/** One contact as the API sends it (JSON shape). Optional members are absent from the JSON when unset. */
export interface Contact {
  _id: string;
  _bot: string;
  _customer: string;
  platform: readonly Platform[];
  secondaryPlatform: readonly string[];
  isSubscriber: boolean;
  websiteVisits: number;
  isOnline: boolean;
  userInteracted: boolean;
  profile: {
    userDetails?: UserDetails;
    marketing?: { urlsVisited: readonly string[] };
    notes?: readonly Note[];
  };
  status: ContactStatus;
  lastMessage?: { by: "user" | "bot" | "agent"; at: string };
  isContact: boolean;
  isImported: boolean;
  segments: readonly string[];
  isLiveChatActive: boolean;
  isPaid: boolean;
  hasOrdered: { status: boolean };
  unreadMessages: number;
  lastSeenAt: string | null;
  createdAt: string;
  updatedAt: string;
  __v: number;
  /** Fields the documentation never mentions; a few contacts carry them. */
  customFlags?: Readonly<Record<string, boolean>>;
  utm?: Readonly<{ source: string; medium: string; campaign: string }>;
}

export interface GenerateOptions {
  seed?: number;
  /** The clock (ms) or the instant itself: createdAt spreads over the two years before it. */
  now?: number | (() => number);
  /** Size of a cluster of contacts sharing one lastSeenAt (see seenTieCluster); default 0: none, and the data
   *  is exactly what it was before this option existed. */
  lastSeenTies?: number;
}

const TWO_YEARS_MS = 730 * 86_400_000;
const EMPTY: readonly never[] = Object.freeze([]);

const CUSTOMER = "65a1f3c29b7e4d0012c8a417";
const BOTS: Readonly<Record<Platform, string>> = {
  WEBSITE: "65a1f40d9b7e4d0012c8a43c",
  WHATSAPP: "65a1f4519b7e4d0012c8a45e",
  TELEGRAM: "65b20e7a31d2f80013f1b902",
  FACEBOOK: "65c3a1186e0b5c0014a7d3e1",
  INSTAGRAM: "65c3a1186e0b5c0014a7d3e2",
};
const PLATFORM_ARRAY: Readonly<Record<Platform, readonly Platform[]>> = {
  WEBSITE: Object.freeze(["WEBSITE"] as Platform[]),
  WHATSAPP: Object.freeze(["WHATSAPP"] as Platform[]),
  TELEGRAM: Object.freeze(["TELEGRAM"] as Platform[]),
  FACEBOOK: Object.freeze(["FACEBOOK"] as Platform[]),
  INSTAGRAM: Object.freeze(["INSTAGRAM"] as Platform[]),
};
const PLATFORMS = weights<Platform>([["WEBSITE", 45], ["WHATSAPP", 35], ["TELEGRAM", 8], ["FACEBOOK", 7], ["INSTAGRAM", 5]]);
const SECONDARY: readonly (readonly string[])[] = ["website", "whatsapp", "telegram", "facebook", "instagram"].map((p) =>
  Object.freeze([p]),
);
const STATUSES = weights<ContactStatus>([
  ["OPEN", 55], ["CLOSED", 36], ["INPROGRESS", 3], ["REVIEW", 2], ["ONHOLD", 2], ["DEPENDANCY", 1.5], ["DELETED", 0.5],
]);
const MESSAGE_BY = weights<"user" | "bot" | "agent">([["user", 50], ["bot", 35], ["agent", 15]]);
const HAS_ORDERED_NO = Object.freeze({ status: false });
const HAS_ORDERED_YES = Object.freeze({ status: true });

const FIRST = [
  "James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "David", "Elizabeth", "Priya",
  "Rahul", "Amit", "Sneha", "Arjun", "Ananya", "Vikram", "Pooja", "Oliver", "Amelia", "Harry", "Isla", "George",
  "Ava", "Mohammed", "Fatima", "Wei", "Yuki", "Carlos", "Sofia", "Lucas", "Emma", "Noah", "Olivia", "Liam",
  "Chloe", "Ethan", "Grace", "Ravi", "Kavya",
];
const LAST = [
  "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Sharma", "Patel", "Singh",
  "Kumar", "Gupta", "Reddy", "Iyer", "Taylor", "Wilson", "Evans", "Thomas", "Roberts", "Khan", "Chen", "Tanaka",
  "Rodriguez", "Martinez", "Nguyen", "Kim", "Anderson", "Clarke", "Walker",
];
/** Names that break naive code: quotes, backslashes, accents, emoji, right-to-left and other scripts, odd spacing. */
const HARD_NAMES = [
  "José Álvarez", "Zoë Müller", "Łukasz Wójcik", "Chloé Lefèvre", "Søren Nielsen", "Renée O'Connor",
  "Seán O'Brien", "D'Angelo Ruiz", 'Dwayne "DJ" Carter', "Back\\slash Bob", "Priya 🌸", "Rahul 🚀 Mehta",
  "😀", "محمد الأحمد", "فاطمة الزهراء", "שרה כהן", "李娜", "田中 太郎", "Nguyễn Văn An", "Ольга Иванова",
  "Αλέξανδρος Παπαδόπουλος", "प्रिया शर्मा", "  Trailing Space  ", "ALL CAPS NAME", "null", "Robert'); DROP TABLE contacts;--",
];
const DOMAINS = ["gmail.com", "yahoo.co.in", "outlook.com", "hotmail.com", "icloud.com", "proton.me", "acme-corp.com", "rediffmail.com"];

type Region = "IN" | "US" | "GB" | "OTHER";
const REGIONS = weights<Region>([["IN", 55], ["US", 20], ["GB", 15], ["OTHER", 10]]);
const COUNTRY: Record<Exclude<Region, "OTHER">, string> = { IN: "India", US: "United States", GB: "United Kingdom" };
const OTHER_COUNTRIES = ["United Arab Emirates", "Brazil", "Germany", "Nigeria", "Indonesia", "Australia"];

const TAGS = ["lead", "customer", "vip", "newsletter", "support", "trial", "churn-risk", "Hot Lead", "b2b", "webinar-2024", "Diwali Offer", "refund"];
const SEGMENT_IDS = ["66b0c1d2e3f4a5b6c7d8e901", "66b0c1d2e3f4a5b6c7d8e902", "66b0c1d2e3f4a5b6c7d8e903", "66b0c1d2e3f4a5b6c7d8e904"];
const URLS = [
  "https://www.acme-corp.com/", "https://www.acme-corp.com/pricing", "https://www.acme-corp.com/blog/whatsapp-marketing",
  "https://www.acme-corp.com/contact?utm_source=google&utm_medium=cpc", "https://www.acme-corp.com/checkout",
  "https://shop.acme-corp.com/products/é-bike",
];
const NOTES = ["Called, wants a demo next week", "Asked about GST invoice", "Do not contact before 10am", "Refund issued — see ticket #4411"];

// Pools of shared, frozen values, built once from a fixed seed so they never depend on the caller's seed.
const poolRng = new Rng(0x5eed);
function combos<T>(items: readonly T[], count: number, maxLen: number): readonly (readonly T[])[] {
  const out: (readonly T[])[] = items.map((x) => Object.freeze([x]));
  while (out.length < count) {
    const len = poolRng.between(2, maxLen);
    const set = new Set<T>();
    while (set.size < len) set.add(poolRng.pick(items));
    out.push(Object.freeze([...set]));
  }
  return out;
}
const TAG_COMBOS = combos(TAGS, 40, 3);
const SEGMENT_COMBOS = combos(SEGMENT_IDS, 8, 2);
const NO_MARKETING = Object.freeze({ urlsVisited: EMPTY });
const MARKETING_COMBOS = combos(URLS, 20, 4).map((urlsVisited) => Object.freeze({ urlsVisited }));
const ATTRIBUTE_POOL: readonly Attribute[] = [
  ...["free", "pro", "enterprise"].map((value) => ({ key: "plan", value })),
  ...["Google Ads", "Facebook Ads", "Referral", "Organic"].map((value) => ({ key: "source", value })),
  ...["Pune", "Mumbai", "Bengaluru", "London", "New York", "São Paulo"].map((value) => ({ key: "city", value })),
  ...["en", "hi", "ar"].map((value) => ({ key: "language", value })),
  ...[19, 24, 31, 38, 45, 52, 67].map((value) => ({ key: "age", value })),
  { key: "consent", value: true }, { key: "consent", value: false },
  { key: "budget", value: "₹50,000" }, { key: "Budget (USD)", value: "1,200.50" },
].map((a) => Object.freeze(a));
const UTM_POOL = [
  { source: "google", medium: "cpc", campaign: "brand" },
  { source: "facebook", medium: "paid_social", campaign: "diwali-2024" },
  { source: "newsletter", medium: "email", campaign: "weekly" },
  { source: "instagram", medium: "bio", campaign: "" },
].map((u) => Object.freeze(u));
const FLAG_POOL: readonly Readonly<Record<string, boolean>>[] = ([{ vip: true }, { optedOutSms: true, vip: false }, { betaTester: true }] as Record<string, boolean>[]).map(
  (f) => Object.freeze(f),
);

// Every contact's full names come from this pool of shared strings (duplicates are realistic anyway).
const FULL_NAMES = FIRST.flatMap((f) => LAST.map((l) => flat(f + " " + l)));

/**
 * Makes a concatenated string flat: V8 keeps `a + b` as a tree of pieces (a "cons string", over 100 bytes
 * for an email address) until the string is read; reading one character flattens it, and the collector
 * then drops the pieces. A million contacts hold several such strings each.
 */
function flat(s: string): string {
  s.charCodeAt(0);
  return s;
}

/**
 * `new Date(ms).toISOString()` for years 0000-9999, about 4x faster and as one flat string (a template
 * literal of parts would cost 250 bytes a date). Date math from H. Hinnant's `civil_from_days`.
 */
export function isoFromMs(instant: number): string {
  const ms = Math.trunc(instant); // as Date does
  if (!Number.isFinite(ms)) return new Date(ms).toISOString(); // throws RangeError, as Date does
  const days = Math.floor(ms / 86_400_000);
  let rem = ms - days * 86_400_000;
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  if (y < 0 || y > 9999) return new Date(ms).toISOString();
  const h = Math.floor(rem / 3_600_000);
  rem -= h * 3_600_000;
  const mi = Math.floor(rem / 60_000);
  rem -= mi * 60_000;
  const sec = Math.floor(rem / 1000);
  rem -= sec * 1000;
  return String.fromCharCode(
    48 + Math.floor(y / 1000), 48 + (Math.floor(y / 100) % 10), 48 + (Math.floor(y / 10) % 10), 48 + (y % 10), 45,
    48 + Math.floor(m / 10), 48 + (m % 10), 45, 48 + Math.floor(d / 10), 48 + (d % 10), 84,
    48 + Math.floor(h / 10), 48 + (h % 10), 58, 48 + Math.floor(mi / 10), 48 + (mi % 10), 58,
    48 + Math.floor(sec / 10), 48 + (sec % 10), 46, 48 + Math.floor(rem / 100), 48 + (Math.floor(rem / 10) % 10), 48 + (rem % 10), 90,
  );
}
const iso = isoFromMs;

/** A string of `count` digits (count <= 18) not starting with 0. */
function digits(rng: Rng, count: number): string {
  if (count <= 9) return String(10 ** (count - 1) + rng.int(9 * 10 ** (count - 1)));
  return flat(digits(rng, count - 9) + String(rng.int(1e9)).padStart(9, "0"));
}

/**
 * Makes contacts one by one. Each factory has its own stream of ObjectIds (a distinct "machine" part, like
 * another MongoDB process), so contacts created later by the store never collide with generated ones.
 */
export class ContactFactory {
  private readonly rng: Rng;
  private readonly machine: string;
  private counter: number;

  constructor(seed: number, stream = 0) {
    this.rng = new Rng(seed * 31 + stream * 7919 + 17);
    this.machine = (stream & 0xff).toString(16).padStart(2, "0") + this.rng.int(0x100000000).toString(16).padStart(8, "0");
    this.counter = this.rng.int(0x100000);
  }

  /** A MongoDB-style ObjectId: 4 bytes of seconds, 5 bytes of machine, 3 bytes of counter. */
  objectId(atMs: number): string {
    const seconds = Math.floor(atMs / 1000).toString(16).padStart(8, "0");
    const counter = (this.counter++ & 0xffffff).toString(16).padStart(6, "0");
    return flat(seconds + this.machine + counter);
  }

  /**
   * One contact created at `createdAtMs`. `fresh` = it just arrived (createdAt = lastSeenAt = updatedAt = now,
   * status OPEN, a contact); `imported` = part of a bulk import (often never seen).
   */
  make(createdAtMs: number, nowMs: number, kind: "old" | "fresh" | "imported" = "old"): Contact {
    const rng = this.rng;
    const fresh = kind === "fresh";
    const imported = kind === "imported" || (!fresh && rng.chance(0.04));
    const platform = imported ? "WHATSAPP" : rng.weighted(PLATFORMS);
    const createdAt = iso(createdAtMs);

    let lastSeenMs: number | null;
    if (fresh) lastSeenMs = createdAtMs;
    else if ((imported && rng.chance(0.5)) || rng.chance(0.01)) lastSeenMs = null;
    else if (rng.chance(0.45)) lastSeenMs = Math.min(nowMs, createdAtMs + rng.int(30 * 60_000));
    else lastSeenMs = createdAtMs + Math.floor(rng.next() * (nowMs - createdAtMs));
    const lastSeenAt = lastSeenMs === null ? null : lastSeenMs === createdAtMs ? createdAt : iso(lastSeenMs);
    const userInteracted = lastSeenMs !== null && (fresh || rng.chance(0.8));
    let lastMessage: Contact["lastMessage"];
    if (lastSeenMs !== null) {
      const by = fresh ? "user" : rng.weighted(MESSAGE_BY);
      lastMessage = { by, at: by === "user" ? lastSeenAt! : iso(Math.max(createdAtMs, lastSeenMs - rng.int(60_000))) };
    }
    const touchedMs = Math.max(createdAtMs, lastSeenMs ?? createdAtMs);
    // Saving a message usually stamps updatedAt in the same millisecond as lastSeenAt.
    const updatedAt = fresh ? createdAt : lastSeenAt !== null && rng.chance(0.5) ? lastSeenAt : iso(Math.min(nowMs, touchedMs + rng.int(5_000)));

    const contact: Contact = {
      _id: this.objectId(createdAtMs),
      _bot: BOTS[platform],
      _customer: CUSTOMER,
      platform: PLATFORM_ARRAY[platform],
      secondaryPlatform: rng.chance(0.2) ? rng.pick(SECONDARY) : EMPTY,
      isSubscriber: rng.chance(0.7),
      websiteVisits: platform === "WEBSITE" ? rng.between(1, 25) : rng.chance(0.1) ? rng.between(1, 5) : 0,
      isOnline: !fresh && rng.chance(0.03),
      userInteracted,
      profile: this.profile(platform, createdAtMs, nowMs),
      status: fresh ? "OPEN" : rng.weighted(STATUSES),
      lastMessage,
      isContact: fresh || rng.next() >= 0.01,
      isImported: imported,
      segments: rng.chance(0.15) ? rng.pick(SEGMENT_COMBOS) : EMPTY,
      isLiveChatActive: !fresh && rng.chance(0.02),
      isPaid: rng.chance(0.05),
      hasOrdered: rng.chance(0.08) ? HAS_ORDERED_YES : HAS_ORDERED_NO,
      unreadMessages: rng.chance(0.85) ? 0 : rng.between(1, 12),
      lastSeenAt,
      createdAt,
      updatedAt,
      __v: fresh ? 0 : rng.int(9),
    };
    if (rng.chance(0.02)) contact.customFlags = rng.pick(FLAG_POOL);
    if (rng.chance(0.03)) contact.utm = rng.pick(UTM_POOL);
    return contact;
  }

  private profile(platform: Platform, createdAtMs: number, nowMs: number): Contact["profile"] {
    const rng = this.rng;
    const roll = rng.next();
    // About 5% of contacts have holes in their profile: no userDetails at all, or no name and no contact.
    if (roll < 0.01) return { notes: EMPTY };
    const bare = roll < 0.05;

    const region = rng.weighted(REGIONS);
    let first = "";
    let name: string | undefined;
    if (!bare) {
      if (rng.chance(0.08)) name = rng.pick(HARD_NAMES);
      else {
        const f = rng.int(FIRST.length);
        first = FIRST[f]!;
        name = rng.chance(0.85) ? FULL_NAMES[f * LAST.length + rng.int(LAST.length)]! : first;
      }
    }

    let phone: Phone | undefined;
    const wantsPhone = platform === "WHATSAPP" || rng.chance(platform === "WEBSITE" ? 0.5 : 0.25);
    if ((!bare || platform === "WHATSAPP") && wantsPhone) phone = this.phone(region === "OTHER" ? "IN" : region);
    let email: string | undefined;
    if (!bare && rng.chance(platform === "WEBSITE" ? 0.7 : 0.3)) email = this.email(first);

    const userDetails: UserDetails = {
      name,
      userProvidedName: name === undefined ? undefined : rng.chance(0.7) ? name : rng.chance(0.5) ? "" : first || "Guest",
      contact: bare ? undefined : { email, phone },
      tags: rng.chance(0.6) ? EMPTY : rng.pick(TAG_COMBOS),
      attributes: this.attributes(),
      country: rng.chance(0.1) ? undefined : region === "OTHER" ? rng.pick(OTHER_COUNTRIES) : COUNTRY[region],
      whatsAppNumber: platform === "WHATSAPP" && phone ? phone.prefix.replace("+", "") + phone.number.replace(/\D/g, "").replace(/^0/, "") : undefined,
      telegramUserName: platform === "TELEGRAM" ? flat((first || "user").toLowerCase() + "_" + digits(rng, 4)) : undefined,
      instagramProfileId: platform === "INSTAGRAM" ? digits(rng, 17) : undefined,
      facebookProfileId: platform === "FACEBOOK" ? digits(rng, 16) : undefined,
    };
    if (bare && platform === "WHATSAPP" && phone) userDetails.contact = { phone };
    return {
      userDetails,
      marketing: platform === "WEBSITE" && rng.chance(0.6) ? rng.pick(MARKETING_COMBOS) : NO_MARKETING,
      notes: rng.chance(0.02)
        ? [{ _id: this.objectId(createdAtMs), note: rng.pick(NOTES), createdAt: iso(Math.min(nowMs, createdAtMs + rng.int(86_400_000))) }]
        : EMPTY,
    };
  }

  /** Phones as real users type them: prefixes with and without "+", trunk zeros, spaces and dashes. */
  private phone(region: Exclude<Region, "OTHER">): Phone {
    const rng = this.rng;
    const style = rng.int(10); // 0-5 plain, 6 trunk 0, 7 spaces, 8 dashes, 9 trunk 0 + spaces
    if (region === "IN") {
      const n = String(6_000_000_000 + rng.int(4_000_000_000));
      const number = style === 6 ? "0" + n : style === 7 ? n.slice(0, 5) + " " + n.slice(5)
        : style === 8 ? n.slice(0, 5) + "-" + n.slice(5) : style === 9 ? "0" + n.slice(0, 5) + " " + n.slice(5) : n;
      return { number, prefix: "91" };
    }
    if (region === "US") {
      const n = String(rng.between(201, 989) * 10_000_000 + 5_550_000 + rng.int(10_000));
      const number = style === 7 ? `${n.slice(0, 3)} ${n.slice(3, 6)} ${n.slice(6)}`
        : style >= 8 ? `${n.slice(0, 3)}-${n.slice(3, 6)}-${n.slice(6)}` : n;
      return { number, prefix: "1" };
    }
    const n = String(7_000_000_000 + rng.int(1_000_000_000));
    const number = style === 6 ? "0" + n : style === 7 ? n.slice(0, 4) + " " + n.slice(4)
      : style === 8 ? n.slice(0, 4) + "-" + n.slice(4) : style === 9 ? "0" + n.slice(0, 4) + " " + n.slice(4) : n;
    return { number, prefix: rng.chance(0.5) ? "+44" : "44" };
  }

  private email(first: string): string {
    const rng = this.rng;
    const local = first ? first.toLowerCase() + (rng.chance(0.5) ? "." + rng.pick(LAST).toLowerCase() : "") + rng.int(1000) : "user" + digits(rng, 6);
    const email = flat(local + "@" + rng.pick(DOMAINS));
    const mess = rng.int(100);
    if (mess < 2) return email.toUpperCase();
    if (mess < 3) return flat(" " + email + " ");
    if (mess < 4) return rng.chance(0.5) ? flat(local + "@") : "n/a";
    return email;
  }

  private attributes(): readonly Attribute[] {
    const rng = this.rng;
    const count = rng.chance(0.5) ? 0 : rng.between(1, 4);
    if (count === 0) return EMPTY;
    const out: Attribute[] = [];
    for (let i = 0; i < count; i++) out.push(rng.pick(ATTRIBUTE_POOL));
    if (rng.chance(0.02)) out.push({ key: "order_id", value: "ORD-" + digits(rng, 7) });
    return out;
  }
}

/** Where the deliberate bulk-import cluster of equal createdAt values sits (start index, size). */
export function tieCluster(n: number): { start: number; size: number } {
  if (n < 10) return { start: 0, size: 0 };
  const size = Math.min(20, Math.floor(n / 5));
  // With 200+ contacts the cluster straddles a multiple of 50 (the default page size): ties across a page edge.
  const start = n >= 200 ? 50 * Math.max(1, Math.round((n * 0.4) / 50)) - 10 : Math.floor(n / 2) - Math.floor(size / 2);
  return { start, size };
}

/**
 * `n` contacts ordered as the API lists them (createdAt descending, _id descending), createdAt spread over
 * the two years before `now`, unique to the millisecond except one cluster of `tieCluster(n).size` contacts
 * that share a createdAt (a bulk import).
 */
export function generateContacts(n: number, { seed = 1, now = Date.now, lastSeenTies = 0 }: GenerateOptions = {}): Contact[] {
  const nowMs = typeof now === "function" ? now() : now;
  const rng = new Rng(seed);
  // Contact i (newest first) falls at a random instant of its own slot of the two years: unique, in order.
  const slot = Math.max(1, Math.floor(TWO_YEARS_MS / Math.max(n, 1)));
  const cluster = tieCluster(n);
  const times = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const tie = i > cluster.start && i < cluster.start + cluster.size;
    times[i] = tie ? times[i - 1]! : nowMs - i * slot - 1 - rng.int(slot);
  }
  // Create oldest first, as the real data set grew, so ObjectId counters rise with time and the tie
  // cluster is already in _id-descending order.
  const factory = new ContactFactory(seed);
  const contacts = new Array<Contact>(n);
  for (let i = n - 1; i >= 0; i--) {
    const imported = i >= cluster.start && i < cluster.start + cluster.size;
    contacts[i] = factory.make(times[i]!, nowMs, imported ? "imported" : "old");
  }
  if (lastSeenTies > 1) {
    const { ranked, start, size } = seenTieCluster(contacts, lastSeenTies);
    const at = size > 0 ? ranked[start]!.lastSeenAt! : "";
    for (let k = start; k < start + size; k++) {
      const c = ranked[k]!;
      c.lastSeenAt = at;
      if (c.lastMessage?.by === "user") c.lastMessage = { by: "user", at };
      if (c.updatedAt < at) c.updatedAt = at;
    }
  }
  return contacts;
}

/**
 * Where a cluster of `size` contacts sharing one lastSeenAt sits: `ranked` is the listable contacts (isContact,
 * not DELETED, with a lastSeenAt) newest-seen first (lastSeenAt desc, _id desc), and the cluster is
 * ranked[start .. start+size-1], all moved up to ranked[start]'s lastSeenAt, which keeps their ranks. With 200+
 * such contacts it straddles a multiple of 50 (the default page size), at about 60% of the list (the createdAt
 * cluster sits at 40%).
 */
export function seenTieCluster(contacts: readonly Contact[], size: number): { ranked: Contact[]; start: number; size: number } {
  const ranked = contacts.filter((c) => c.isContact && c.status !== "DELETED" && c.lastSeenAt !== null);
  ranked.sort((a, b) => (a.lastSeenAt !== b.lastSeenAt ? (a.lastSeenAt! > b.lastSeenAt! ? -1 : 1) : a._id > b._id ? -1 : a._id < b._id ? 1 : 0));
  const m = ranked.length;
  const k = Math.max(0, Math.min(Math.floor(size), m));
  if (k < 2) return { ranked, start: 0, size: 0 };
  const start = m >= 200 ? Math.min(m - k, 50 * Math.max(1, Math.round((m * 0.6) / 50)) - 10) : Math.floor(m / 2) - Math.floor(k / 2);
  return { ranked, start: Math.max(0, Math.min(start, m - k)), size: k };
}
