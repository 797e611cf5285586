// The double's data: contacts in memory, sorted by the API's listing order (createdAt descending, _id
// descending), with the live changes a real inbox sees (visits, new contacts, silent edits, deletes) and the
// query the endpoint answers. ISO strings of one format compare like the instants they name, so dates stay
// strings (the JSON shape) and a createdAt upper bound is found by binary search: a seek page of a million
// contacts costs a few comparisons plus one page of filtering.
//
// The array holds the reverse of the listing order (oldest first) so that new contacts, which list first,
// are appended at its end: a splice at the front of a million-entry array costs tens of milliseconds.
//
// The other realities of ApiBehaviour (other orders, unstable ties, post-filtering) take a slower path
// (orderedPage): a scan of the createdAt window, plus a sort for lastSeenAt orders.
import { CONTACT_STATUSES, ContactFactory, isoFromMs, type Contact, type ContactStatus, type UserDetails } from "./generate.js";
import { Rng } from "./rng.js";
import { checkBehaviour, type ApiBehaviour, type ListingOrder } from "./behaviour.js";

/** A request the endpoint refuses with 400; `messages` become the wrapper's `data`. */
export class QueryError extends Error {
  override name = "QueryError";
  constructor(readonly messages: string[]) {
    super(messages.join("; "));
  }
}

export interface StoreOptions {
  seed?: number;
  now?: () => number;
  deletedVisible?: boolean;
  honourDateFilters?: boolean;
  /** The query side of the API's behaviour (order, ties, post-filtering, bounds, unlisted filters). */
  behaviour?: ApiBehaviour;
}

type DeepPartial<T> = T extends readonly unknown[] ? T : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;
/** Partial contact for `editSilently`: objects are merged, arrays and scalars replaced. */
export type ContactPatch = DeepPartial<Contact>;

export const REQUIRED_FIELDS = [
  "searchText", "tags", "status", "isOnline", "_botWebsite", "_botWhatsapp", "_botTelegram", "_botFacebook",
  "_agentAssigned", "segments", "applicableFilters", "lastSeenAt", "createdAt", "userInteracted", "lastMessageBy",
  "isLiveChatActive", "hasOrdered", "page", "isExport", "isContact",
] as const;
const ARRAY_FIELDS = [
  "tags", "status", "_botWebsite", "_botWhatsapp", "_botTelegram", "_botFacebook", "_agentAssigned", "segments",
  "applicableFilters", "lastMessageBy",
] as const;
const OBJECT_FIELDS = ["lastSeenAt", "createdAt", "hasOrdered"] as const;

// Bounds outside years 0000-9999 are clamped: their ISO strings have another shape and would compare wrongly.
const MIN_ISO_MS = Date.parse("0000-01-01T00:00:00.000Z");
const MAX_ISO_MS = Date.parse("9999-12-31T23:59:59.999Z");

const iso = isoFromMs;

/** Listing order: negative when `a` is listed before `b`. */
export function compareListing(a: Contact, b: Contact): number {
  if (a.createdAt !== b.createdAt) return a.createdAt > b.createdAt ? -1 : 1;
  return a._id === b._id ? 0 : a._id > b._id ? -1 : 1;
}

interface Plan {
  isContact: boolean;
  createdFrom: string | null;
  createdTo: string | null;
  seen: { from: string | null; to: string | null } | null;
  tags: Set<unknown> | null;
  status: Set<unknown> | null;
  segments: Set<unknown> | null;
  lastMessageBy: Set<unknown> | null;
  userInteracted: boolean | null;
  isOnline: boolean | null;
  isLiveChatActive: boolean | null;
  search: string | null;
}

export class ContactStore {
  /** false (default): deleted contacts stop appearing in listings; true: they appear with status DELETED. */
  deletedVisible: boolean;
  /** false: the date filters are ignored even when listed (an API that ignores the window). */
  honourDateFilters: boolean;
  readonly now: () => number;

  /** How queries behave (server.ts's ApiBehaviour; the clock and rate limit are the server's). */
  get behaviour(): ApiBehaviour {
    return this.behaviourValue;
  }
  set behaviour(b: ApiBehaviour) {
    this.behaviourValue = checkBehaviour(b);
  }
  private behaviourValue: ApiBehaviour = {};
  /** Draws the order of tie groups under unstableTies: advanced per request, seeded. */
  private readonly tieRng: Rng;

  /** Oldest first: the reverse of the listing order. */
  private readonly contacts: Contact[];
  private readonly rng: Rng;
  private readonly factory: ContactFactory;
  private readonly statusBeforeDelete = new Map<string, ContactStatus>();

  /**
   * Keeps the contact objects themselves (no copies: mutations show in them); `contacts` is best given in
   * listing order, as `generateContacts` makes them, and is sorted otherwise. The array is not kept.
   */
  constructor(
    contacts: readonly Contact[] = [],
    { seed = 1, now = Date.now, deletedVisible = false, honourDateFilters = true, behaviour = {} }: StoreOptions = {},
  ) {
    const n = contacts.length;
    const list = new Array<Contact>(n);
    let sorted = true;
    for (let i = 0; i < n; i++) {
      list[n - 1 - i] = contacts[i]!;
      if (i > 0 && compareListing(contacts[i - 1]!, contacts[i]!) >= 0) sorted = false;
    }
    if (!sorted) list.sort((a, b) => compareListing(b, a));
    this.contacts = list;
    this.now = now;
    this.deletedVisible = deletedVisible;
    this.honourDateFilters = honourDateFilters;
    this.rng = new Rng(seed ^ 0x2545f491);
    this.tieRng = new Rng(seed ^ 0x7e51c0de);
    this.behaviour = behaviour;
    this.factory = new ContactFactory(seed, 1);
  }

  get size(): number {
    return this.contacts.length;
  }

  /** Every contact, deleted ones and non-contacts included, in listing order (a new array). */
  all(): Contact[] {
    return this.contacts.slice().reverse();
  }

  /**
   * What a complete, unfiltered listing returns right now, in order: the documented body sends
   * `isContact: true`, so non-contacts are left out unless `{ isContact: false }`; deleted contacts are left
   * out unless `deletedVisible`.
   */
  visible({ isContact = true }: { isContact?: boolean } = {}): Contact[] {
    const out: Contact[] = [];
    for (let i = this.contacts.length - 1; i >= 0; i--) {
      const c = this.contacts[i]!;
      if ((!isContact || c.isContact) && (this.deletedVisible || c.status !== "DELETED")) out.push(c);
    }
    return out;
  }

  /**
   * The contact with this _id. An ObjectId starts with its creation second, which is createdAt's second for
   * every generated or created contact, so that second's few contacts are searched first; other ids (hand-made
   * contacts) fall back to a scan. No index: a Map of a million ids would cost a second to build.
   */
  get(id: string): Contact | undefined {
    const list = this.contacts;
    const seconds = /^[0-9a-f]{8}/i.test(id) ? parseInt(id.slice(0, 8), 16) : NaN;
    if (Number.isFinite(seconds)) {
      const from = iso(seconds * 1000);
      for (let i = this.countAtOrBefore(iso(seconds * 1000 + 999)) - 1; i >= 0 && list[i]!.createdAt >= from; i--) {
        if (list[i]!._id === id) return list[i];
      }
    }
    for (let i = list.length - 1; i >= 0; i--) if (list[i]!._id === id) return list[i];
    return undefined;
  }

  /** Adds a hand-made contact at its place in the listing order (tests use it to build edge cases). */
  insert(contact: Contact): Contact {
    if (this.get(contact._id)) throw new Error(`a contact with _id ${contact._id} already exists`);
    return this.place(contact);
  }

  /** The contact was active: lastSeenAt (and its last message) move to `at` (default now). */
  see(id: string, at?: number | string | Date): Contact {
    const c = this.must(id);
    const ms = at === undefined ? this.now() : typeof at === "number" ? at : new Date(at).getTime();
    if (!Number.isFinite(ms)) throw new Error(`see(${id}): invalid instant ${String(at)}`);
    c.lastSeenAt = iso(ms);
    c.lastMessage = { by: "user", at: c.lastSeenAt };
    c.userInteracted = true;
    this.touch(c, at === undefined ? c.lastSeenAt : undefined);
    return c;
  }

  /** `n` new contacts, created (and last seen) now: first in the listing. */
  create(n: number): Contact[] {
    const out: Contact[] = [];
    for (let i = 0; i < n; i++) {
      const now = this.now();
      // The factory's ids are unique by construction: no look-up needed.
      out.push(this.place(this.factory.make(now, now, "fresh")));
    }
    return out;
  }

  /**
   * An edit that does not move lastSeenAt (an agent renames, tags or closes a contact): only updatedAt and
   * __v show it. Without `patch` a random edit is made. `_id`, `createdAt` and `lastSeenAt` in a patch are
   * ignored: the first two fix the contact's place in the listing, the last is what "silently" means.
   */
  editSilently(id: string, patch?: ContactPatch): Contact {
    const c = this.must(id);
    if (patch) {
      const { _id, createdAt, lastSeenAt, ...rest } = structuredClone(patch) as Record<string, unknown>;
      mergeInto(c as unknown as Record<string, unknown>, rest);
    } else {
      this.randomEdit(c);
    }
    this.touch(c);
    return c;
  }

  /** Soft delete, as BotPenguin's status update does: status DELETED, hidden unless deletedVisible. */
  delete(id: string): Contact {
    const c = this.must(id);
    if (c.status !== "DELETED") {
      this.statusBeforeDelete.set(id, c.status);
      c.status = "DELETED";
      this.touch(c);
    }
    return c;
  }

  restore(id: string): Contact {
    const c = this.must(id);
    if (c.status === "DELETED") {
      c.status = this.statusBeforeDelete.get(id) ?? "OPEN";
      this.statusBeforeDelete.delete(id);
      this.touch(c);
    }
    return c;
  }

  /** Up to `n` distinct ids drawn with the seeded generator (fewer when fewer contacts qualify). */
  randomIds(n: number, predicate?: (c: Contact) => boolean): string[] {
    const list = this.contacts;
    const picked = new Set<Contact>();
    for (let tries = 0; picked.size < n && tries < n * 20 + 100 && list.length > 0; tries++) {
      const c = list[this.rng.int(list.length)]!;
      if (!picked.has(c) && (!predicate || predicate(c))) picked.add(c);
    }
    if (picked.size < n) {
      // Rare qualifiers: draw from the full list of candidates instead.
      const rest = list.filter((c) => !picked.has(c) && (!predicate || predicate(c)));
      while (picked.size < n && rest.length > 0) {
        const i = this.rng.int(rest.length);
        picked.add(rest[i]!);
        rest[i] = rest[rest.length - 1]!;
        rest.pop();
      }
    }
    return [...picked].map((c) => c._id);
  }

  /** One page of the listing for a request body; throws QueryError for what the API refuses with 400. */
  query(body: unknown, pageSize: number): { rows: Contact[] } {
    const { plan, page } = this.plan(body);
    const b = this.behaviourValue;
    // postFilter: the page is cut from the listing of every user, then non-contacts are dropped from it.
    const postFilter = b.postFilter === true && plan.isContact;
    if (postFilter) plan.isContact = false;
    const order = b.order ?? "createdAt desc";
    let rows =
      order === "createdAt desc" && b.unstableTies !== true
        ? this.seekPage(plan, page, pageSize)
        : this.orderedPage(plan, order, b.unstableTies === true, (page - 1) * pageSize, pageSize);
    if (postFilter) rows = rows.filter((c) => c.isContact);
    return { rows };
  }

  /** The documented guess's page (createdAt desc, stable): a binary search to the window's top, then one page. */
  private seekPage(plan: Plan, page: number, pageSize: number): Contact[] {
    const list = this.contacts;
    let skip = (page - 1) * pageSize;
    const rows: Contact[] = [];
    for (let i = plan.createdTo === null ? list.length - 1 : this.countAtOrBefore(plan.createdTo) - 1; i >= 0 && rows.length < pageSize; i--) {
      const c = list[i]!;
      if (plan.createdFrom !== null && c.createdAt < plan.createdFrom) break;
      if (!this.matches(c, plan)) continue;
      if (skip > 0) skip--;
      else rows.push(c);
    }
    return rows;
  }

  /**
   * A page in any order: the matching rows in order (a walk of the sorted array for createdAt, a filter and
   * sort for lastSeenAt), of which only the tie group holding the page's first row onwards is kept; tie groups
   * are shuffled when unstable. Costs a scan of the window (lastSeenAt: plus a sort of the matching rows).
   */
  private orderedPage(plan: Plan, order: ListingOrder, unstable: boolean, skip: number, size: number): Contact[] {
    const list = this.contacts;
    const desc = order.endsWith("desc");
    const byCreated = order.startsWith("createdAt");
    const key: (c: Contact) => string | null = byCreated ? (c) => c.createdAt : (c) => c.lastSeenAt;
    let source: Iterable<Contact>;
    if (byCreated) {
      const top = plan.createdTo === null ? list.length : this.countAtOrBefore(plan.createdTo);
      const bottom = plan.createdFrom === null ? 0 : this.countBefore(plan.createdFrom);
      source = (function* walk(matches: (c: Contact) => boolean) {
        if (desc) {
          for (let i = top - 1; i >= bottom; i--) if (matches(list[i]!)) yield list[i]!;
        } else {
          for (let i = bottom; i < top; i++) if (matches(list[i]!)) yield list[i]!;
        }
      })((c) => this.matches(c, plan));
    } else {
      const top = plan.createdTo === null ? list.length : this.countAtOrBefore(plan.createdTo);
      const bottom = plan.createdFrom === null ? 0 : this.countBefore(plan.createdFrom);
      const rows: Contact[] = [];
      for (let i = bottom; i < top; i++) if (this.matches(list[i]!, plan)) rows.push(list[i]!);
      const dir = desc ? -1 : 1;
      // MongoDB sorts null below every date: last when descending, first when ascending.
      rows.sort((a, b) => {
        const x = a.lastSeenAt;
        const y = b.lastSeenAt;
        if (x !== y) {
          if (x === null) return -dir;
          if (y === null) return dir;
          return x < y ? -dir : dir;
        }
        return a._id === b._id ? 0 : a._id < b._id ? -dir : dir;
      });
      source = rows;
    }

    // buf holds the rows from the start of the tie group that holds row `skip` to the end of the group that
    // holds row `skip + size - 1` (whole groups, so shuffling one cannot pull in rows from outside it).
    let buf: Contact[] = [];
    let bufStart = 0;
    let k = 0;
    let prev: string | null | undefined;
    for (const c of source) {
      const v = key(c);
      if (k <= skip) {
        if (v !== prev) {
          buf = [];
          bufStart = k;
        }
      } else if (k >= skip + size && v !== prev) break;
      buf.push(c);
      prev = v;
      k++;
    }
    if (unstable) {
      for (let i = 0; i < buf.length; ) {
        let j = i + 1;
        const v = key(buf[i]!);
        while (j < buf.length && key(buf[j]!) === v) j++;
        for (let n = j - i; n > 1; n--) {
          const r = i + this.tieRng.int(n);
          const t = buf[i + n - 1]!;
          buf[i + n - 1] = buf[r]!;
          buf[r] = t;
        }
        i = j;
      }
    }
    return buf.slice(skip - bufStart, skip - bufStart + size);
  }

  /** How many contacts have createdAt < bound. */
  private countBefore(bound: string): number {
    const list = this.contacts;
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (list[mid]!.createdAt < bound) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** How many contacts have createdAt <= bound (they are the first ones of the oldest-first array). */
  private countAtOrBefore(bound: string): number {
    const list = this.contacts;
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (list[mid]!.createdAt <= bound) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Puts a contact at its place: appended when it lists first, as new contacts do. */
  private place(contact: Contact): Contact {
    const list = this.contacts;
    const last = list[list.length - 1];
    if (last === undefined || compareListing(contact, last) < 0) {
      list.push(contact);
      return contact;
    }
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareListing(list[mid]!, contact) > 0) lo = mid + 1;
      else hi = mid;
    }
    list.splice(lo, 0, contact);
    return contact;
  }

  private matches(c: Contact, p: Plan): boolean {
    if (p.isContact && !c.isContact) return false;
    if (!this.deletedVisible && c.status === "DELETED") return false;
    if (p.seen) {
      const s = c.lastSeenAt;
      if (s === null) return false;
      if (p.seen.from !== null && s < p.seen.from) return false;
      if (p.seen.to !== null && s > p.seen.to) return false;
    }
    if (p.status && !p.status.has(c.status)) return false;
    if (p.userInteracted !== null && c.userInteracted !== p.userInteracted) return false;
    if (p.isOnline !== null && c.isOnline !== p.isOnline) return false;
    if (p.isLiveChatActive !== null && c.isLiveChatActive !== p.isLiveChatActive) return false;
    if (p.lastMessageBy && !(c.lastMessage && p.lastMessageBy.has(c.lastMessage.by))) return false;
    if (p.tags && !(c.profile.userDetails?.tags ?? []).some((t) => p.tags!.has(t))) return false;
    if (p.segments && !c.segments.some((s) => p.segments!.has(s))) return false;
    if (p.search !== null && !searchable(c).includes(p.search)) return false;
    return true;
  }

  /** Validates the body as the API does (every documented field required) and compiles the filters. */
  private plan(body: unknown): { plan: Plan; page: number } {
    if (typeof body !== "object" || body === null || Array.isArray(body)) throw new QueryError(["Request body must be a JSON object"]);
    const b = body as Record<string, unknown>;
    const errors = REQUIRED_FIELDS.filter((f) => b[f] === undefined).map((f) => `${f} is required`);
    if (errors.length) throw new QueryError(errors);
    for (const f of ARRAY_FIELDS) if (!Array.isArray(b[f])) errors.push(`${f} must be an array`);
    for (const f of OBJECT_FIELDS) if (typeof b[f] !== "object" || b[f] === null || Array.isArray(b[f])) errors.push(`${f} must be an object`);
    const page = b.page;
    if (typeof page !== "number" || !Number.isInteger(page) || page < 1) errors.push("page must be an integer greater than or equal to 1");
    if (errors.length) throw new QueryError(errors);

    const listed = new Set(b.applicableFilters as unknown[]);
    const behaviour = this.behaviourValue;
    const bounds = { precisionMs: behaviour.boundPrecisionMs ?? 1, inclusive: behaviour.boundsInclusive ?? true };
    const seenFrom = bound(b.lastSeenAt, "lastSeenAt", "startAt", errors, bounds);
    const seenTo = bound(b.lastSeenAt, "lastSeenAt", "endsAt", errors, bounds);
    const createdFrom = bound(b.createdAt, "createdAt", "startAt", errors, bounds);
    const createdTo = bound(b.createdAt, "createdAt", "endsAt", errors, bounds);
    if (errors.length) throw new QueryError(errors);

    const dates = this.honourDateFilters;
    const both = behaviour.bothBoundsRequired === true;
    const useCreated = dates && listed.has("createdAt") && (!both || (createdFrom !== null && createdTo !== null));
    const useSeen = dates && listed.has("lastSeenAt") && (both ? seenFrom !== null && seenTo !== null : seenFrom !== null || seenTo !== null);
    const list = (f: string) => (listed.has(f) && (b[f] as unknown[]).length > 0 ? new Set(b[f] as unknown[]) : null);
    const unlisted = behaviour.unlistedFiltersApplied === true;
    const flag = (f: string) => (listed.has(f) || (unlisted && isBooleanValue(b[f])) ? truthy(b[f]) : null);
    const search = typeof b.searchText === "string" && b.searchText.trim() !== "" ? b.searchText.trim().toLowerCase() : null;
    return {
      page: page as number,
      plan: {
        isContact: truthy(b.isContact),
        createdFrom: useCreated ? createdFrom : null,
        createdTo: useCreated ? createdTo : null,
        seen: useSeen ? { from: seenFrom, to: seenTo } : null,
        tags: list("tags"),
        status: list("status"),
        segments: list("segments"),
        lastMessageBy: list("lastMessageBy"),
        userInteracted: flag("userInteracted"),
        isOnline: flag("isOnline"),
        isLiveChatActive: flag("isLiveChatActive"),
        search,
      },
    };
  }

  private must(id: string): Contact {
    const c = this.get(id);
    if (!c) throw new Error(`no contact with _id ${id}`);
    return c;
  }

  private touch(c: Contact, at?: string): void {
    c.updatedAt = at ?? iso(this.now());
    c.__v += 1;
  }

  private randomEdit(c: Contact): void {
    const rng = this.rng;
    const details: UserDetails = { tags: [], attributes: [], ...c.profile.userDetails };
    switch (rng.int(4)) {
      case 0:
        details.name = (details.name ?? "Guest") + (rng.chance(0.5) ? " Jr." : " (edited)");
        break;
      case 1:
        details.tags = [...details.tags.filter((t) => t !== "edited"), "edited", "tag-" + rng.int(100)];
        break;
      case 2:
        details.attributes = [...details.attributes.filter((a) => a.key !== "lifecycle"), { key: "lifecycle", value: rng.pick(["lead", "customer", "churned"]) }];
        break;
      default: {
        const choices = CONTACT_STATUSES.filter((s) => s !== "DELETED" && s !== c.status);
        if (c.status !== "DELETED") c.status = rng.pick(choices);
        else details.name = (details.name ?? "Guest") + " (edited)";
      }
    }
    c.profile = { ...c.profile, userDetails: details };
  }
}

/**
 * Bound of a date filter as a comparable, inclusive ISO string; null = open (empty or absent); bad dates are
 * 400s. The bound is floored to `precisionMs` first; an exclusive bound becomes the inclusive one a millisecond
 * inside it (stamps are whole milliseconds).
 */
function bound(
  range: unknown,
  field: string,
  side: "startAt" | "endsAt",
  errors: string[],
  { precisionMs, inclusive }: { precisionMs: number; inclusive: boolean },
): string | null {
  const v = (range as Record<string, unknown>)[side];
  if (v === undefined || v === null || v === "") return null;
  let ms = typeof v === "string" ? Date.parse(v) : typeof v === "number" ? v : NaN;
  if (!Number.isFinite(ms)) {
    errors.push(`${field}.${side} must be a valid date`);
    return null;
  }
  if (precisionMs > 1) ms = Math.floor(ms / precisionMs) * precisionMs;
  if (!inclusive) ms += side === "startAt" ? 1 : -1;
  return iso(Math.min(MAX_ISO_MS, Math.max(MIN_ISO_MS, ms)));
}

function truthy(v: unknown): boolean {
  return v === true || v === "true";
}

function isBooleanValue(v: unknown): boolean {
  return v === true || v === false || v === "true" || v === "false";
}

function searchable(c: Contact): string {
  const d = c.profile.userDetails;
  return [d?.name, d?.userProvidedName, d?.contact?.email, d?.contact?.phone?.number, d?.whatsAppNumber, d?.telegramUserName]
    .filter(Boolean)
    .join(" ")
    .toLowerCase();
}

/** Merges `patch` into `target`: nested objects are copied before they are changed (they may be shared). */
function mergeInto(target: Record<string, unknown>, patch: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(patch)) {
    const current = target[key];
    if (isPlainObject(value) && isPlainObject(current)) {
      const copy = { ...current };
      mergeInto(copy, value);
      target[key] = copy;
    } else {
      target[key] = value;
    }
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
