// The double's `behaviour` knobs (issue 9): each undocumented reality of the API, observed through real HTTP.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ContactFactory, generateContacts, isoFromMs, seenTieCluster, tieCluster, type Contact } from "../../src/double/generate.js";
import { startApiDouble, type ApiBehaviour, type ApiDouble, type DoubleOptions } from "../../src/double/server.js";
import { main, USAGE } from "../../src/double/main.js";
import { parseOrder, parsePrecision, parseRateLimit, parseSignedDuration } from "../../src/double/behaviour.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const TOKEN = "test-token";
const NOW = Date.parse("2025-03-01T12:00:00.000Z");
const MIN = 60_000;

type Body = Record<string, unknown>;

function body(overrides: Body = {}): Body {
  return {
    searchText: "", tags: [], status: [], isOnline: false, _botWebsite: [], _botWhatsapp: [], _botTelegram: [],
    _botFacebook: [], _agentAssigned: [], segments: [], applicableFilters: [], lastSeenAt: { startAt: "", endsAt: "" },
    createdAt: { startAt: "", endsAt: "" }, userInteracted: false, lastMessageBy: [], isLiveChatActive: false,
    hasOrdered: { status: false, lastAt: "" }, page: 1, isExport: "none", isContact: true,
    ...overrides,
  };
}

function post(d: ApiDouble, b: Body, token = TOKEN): Promise<Response> {
  return fetch(d.url + "/inbox/users", {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(b),
  });
}

async function rows(d: ApiDouble, b: Body): Promise<Contact[]> {
  const res = await post(d, b);
  const json = (await res.json()) as { data: Contact[] };
  expect(res.status, JSON.stringify(json)).toBe(200);
  return json.data;
}

/** Pages by number until an empty page, as integrations do; returns the pages. */
async function pages(d: ApiDouble, b: Body = {}, max = 10_000): Promise<Contact[][]> {
  const out: Contact[][] = [];
  for (let page = 1; page <= max; page++) {
    const data = await rows(d, body({ ...b, page }));
    if (data.length === 0) return out;
    out.push(data);
  }
  return out;
}

const ids = (cs: Contact[]) => cs.map((c) => c._id);

const doubles: ApiDouble[] = [];
async function start(opts: Partial<DoubleOptions> = {}): Promise<ApiDouble> {
  const d = await startApiDouble({ token: TOKEN, seed: 3, ...opts });
  doubles.push(d);
  return d;
}
afterEach(async () => {
  await Promise.all(doubles.splice(0).map((d) => d.close()));
  vi.restoreAllMocks();
});

/** A contact made at an exact instant (created, seen and updated then). */
const factory = new ContactFactory(77, 9);
function contactAt(at: string, patch: Partial<Contact> = {}): Contact {
  const ms = Date.parse(at);
  return { ...factory.make(ms, ms, "fresh"), ...patch };
}

describe("clockSkewMs", () => {
  it("without skew, the Date header is the real clock", async () => {
    const d = await start({ contacts: 5 });
    const res = await post(d, body());
    await res.arrayBuffer();
    expect(Math.abs(Date.parse(res.headers.get("date")!) - Date.now())).toBeLessThan(2_000);
  });

  it.each([-15 * MIN, 15 * MIN])("skews the Date header of every answer and every stamp by %i ms", async (skew) => {
    const d = await start({ contacts: 50, behaviour: { clockSkewMs: skew } });
    const real = Date.now();
    for (const res of [await post(d, body()), await post(d, body(), "wrong"), await post(d, { page: 1 })]) {
      await res.arrayBuffer();
      expect([200, 401, 400]).toContain(res.status);
      expect(Math.abs(Date.parse(res.headers.get("date")!) - (real + skew))).toBeLessThan(2_000);
    }
    expect(Math.abs(d.apiNow() - (Date.now() + skew))).toBeLessThan(50);
    // Generated data is relative to the skewed clock: the newest contact is just before it, never after it.
    const newest = (await rows(d, body()))[0]!;
    expect(Date.parse(newest.createdAt)).toBeLessThanOrEqual(real + skew + 1_000);
    const [created] = d.store.create(1);
    expect(Math.abs(Date.parse(created!.createdAt) - (Date.now() + skew))).toBeLessThan(1_000);
    const seen = d.store.see(d.store.all()[10]!._id);
    expect(Math.abs(Date.parse(seen.lastSeenAt!) - (Date.now() + skew))).toBeLessThan(1_000);
    expect(seen.updatedAt).toBe(seen.lastSeenAt);
    const edited = d.store.editSilently(d.store.all()[11]!._id);
    expect(Math.abs(Date.parse(edited.updatedAt) - (Date.now() + skew))).toBeLessThan(1_000);
  });

  it("adds the skew to a fixed `now` for stamps, and can be changed with setOptions", async () => {
    const d = await start({ contacts: 0, now: () => NOW, behaviour: { clockSkewMs: -90_000 } });
    expect(d.store.create(1)[0]!.createdAt).toBe(isoFromMs(NOW - 90_000));
    d.setOptions({ behaviour: { clockSkewMs: 5_000 } });
    expect(d.store.create(1)[0]!.createdAt).toBe(isoFromMs(NOW + 5_000));
    const res = await post(d, body());
    await res.arrayBuffer();
    expect(Math.abs(Date.parse(res.headers.get("date")!) - (Date.now() + 5_000))).toBeLessThan(2_000);
    expect(d.behaviour).toEqual({ clockSkewMs: 5_000 });
  });
});

describe("order", () => {
  const sortKey = (c: Contact) => c.lastSeenAt;

  it("lastSeenAt desc: newest seen first, ties by _id desc, never-seen contacts last", async () => {
    const d = await start({ contacts: 300, pageSize: 50, behaviour: { order: "lastSeenAt desc" } });
    const listed = (await pages(d)).flat();
    expect(new Set(ids(listed))).toEqual(new Set(ids(d.store.visible())));
    expect(listed).toHaveLength(d.store.visible().length);
    const firstNull = listed.findIndex((c) => c.lastSeenAt === null);
    expect(firstNull).toBeGreaterThan(0);
    expect(listed.slice(firstNull).every((c) => c.lastSeenAt === null)).toBe(true);
    for (let i = 1; i < listed.length; i++) {
      const [a, b] = [listed[i - 1]!, listed[i]!];
      if (sortKey(a) === sortKey(b)) expect(a._id > b._id, `${a._id} before ${b._id}`).toBe(true);
      else if (b.lastSeenAt !== null) expect(a.lastSeenAt! > b.lastSeenAt).toBe(true);
    }
    // A lastSeenAt order comes with a tie group of lastSeenAt in the data (20 contacts, across a page edge).
    const counts = new Map<string, number>();
    for (const c of listed) if (c.lastSeenAt) counts.set(c.lastSeenAt, (counts.get(c.lastSeenAt) ?? 0) + 1);
    expect(Math.max(...counts.values())).toBe(20);
  });

  it("lastSeenAt asc: never-seen contacts first, then oldest seen first, ties by _id asc", async () => {
    const d = await start({ contacts: 300, behaviour: { order: "lastSeenAt asc" } });
    const listed = (await pages(d)).flat();
    expect(listed).toHaveLength(d.store.visible().length);
    const lastNull = listed.map((c) => c.lastSeenAt).lastIndexOf(null);
    expect(lastNull).toBeGreaterThan(0);
    expect(listed.slice(0, lastNull + 1).every((c) => c.lastSeenAt === null)).toBe(true);
    for (let i = 1; i < listed.length; i++) {
      const [a, b] = [listed[i - 1]!, listed[i]!];
      if (sortKey(a) === sortKey(b)) expect(a._id < b._id).toBe(true);
      else expect(a.lastSeenAt === null || a.lastSeenAt < b.lastSeenAt!).toBe(true);
    }
  });

  it("createdAt asc: the reverse of the default listing, windows included", async () => {
    const d = await start({ contacts: 300, behaviour: { order: "createdAt asc" } });
    const listed = (await pages(d)).flat();
    expect(ids(listed)).toEqual(ids(d.store.visible()).reverse());
    const window = { startAt: listed[100]!.createdAt, endsAt: listed[160]!.createdAt };
    const inWindow = (await pages(d, { applicableFilters: ["createdAt"], createdAt: window })).flat();
    expect(ids(inWindow)).toEqual(ids(listed.slice(100, 161)));
  });

  it("a lastSeenAt window never matches never-seen contacts, in either order", async () => {
    for (const order of ["lastSeenAt asc", "lastSeenAt desc"] as const) {
      const d = await start({ contacts: 300, behaviour: { order } });
      const all = (await pages(d)).flat();
      const window = { startAt: "2000-01-01T00:00:00.000Z", endsAt: "2100-01-01T00:00:00.000Z" };
      const seen = (await pages(d, { applicableFilters: ["lastSeenAt"], lastSeenAt: window })).flat();
      expect(seen).toHaveLength(all.filter((c) => c.lastSeenAt !== null).length);
      expect(seen.every((c) => c.lastSeenAt !== null)).toBe(true);
    }
  });

  it("lastSeenAt order over 20,000 contacts answers a page in reasonable time", async () => {
    const d = await start({ contacts: 20_000, behaviour: { order: "lastSeenAt desc", unstableTies: true } });
    const t0 = performance.now();
    for (let page = 1; page <= 5; page++) expect(await rows(d, body({ page: page * 40 }))).toHaveLength(50);
    expect((performance.now() - t0) / 5).toBeLessThan(1_000); // generous: shared machines; typically ~20 ms
  });

  it("refuses an unknown order", async () => {
    await expect(start({ behaviour: { order: "updatedAt desc" as never } })).rejects.toThrow(/behaviour.order must be one of/);
  });
});

describe("unstableTies", () => {
  /** Reads the createdAt tie cluster page by page (page size 5) through a window of its one millisecond. */
  async function readCluster(d: ApiDouble, at: string): Promise<Contact[][]> {
    return pages(d, { applicableFilters: ["createdAt"], createdAt: { startAt: at, endsAt: at } });
  }

  it("a naive page-numbered read of a tie group misses or repeats rows; a stable double's does not", async () => {
    const n = 300;
    const cluster = tieCluster(n);
    const at = generateContacts(n, { seed: 3, now: NOW })[cluster.start]!.createdAt;
    const stable = await start({ contacts: n, now: () => NOW, pageSize: 5 });
    const unstable = await start({ contacts: n, now: () => NOW, pageSize: 5, behaviour: { unstableTies: true } });
    const truth = ids(stable.store.visible().filter((c) => c.createdAt === at));
    expect(truth.length).toBe(cluster.size);

    for (let read = 0; read < 2; read++) {
      const s = (await readCluster(stable, at)).flat();
      expect(ids(s)).toEqual(truth);
    }
    const reads = [(await readCluster(unstable, at)).flat(), (await readCluster(unstable, at)).flat()];
    const broken = reads.filter((r) => r.length !== new Set(ids(r)).size || new Set(ids(r)).size < truth.length);
    expect(broken.length).toBeGreaterThan(0);
    // Each page holds only rows of the group, and the order differs between requests.
    for (const r of reads) expect(r.every((c) => c.createdAt === at)).toBe(true);
    expect(ids(reads[0]!)).not.toEqual(ids(reads[1]!));
  });

  it("shuffles tie groups across a page edge in the default listing too, and nothing else", async () => {
    const unstable = await start({ contacts: 300, now: () => NOW, behaviour: { unstableTies: true } });
    const stableOrder = unstable.store.visible();
    const at = stableOrder.find((c, i) => stableOrder[i + 1]?.createdAt === c.createdAt)!.createdAt;
    const [a, b] = [(await pages(unstable)).flat(), (await pages(unstable)).flat()];
    for (const read of [a, b]) {
      expect(read).toHaveLength(stableOrder.length);
      read.forEach((c, i) => {
        if (c.createdAt !== at) expect(c._id).toBe(stableOrder[i]!._id);
        else expect(stableOrder[i]!.createdAt).toBe(at);
      });
    }
  });

  it("shuffles lastSeenAt ties (and the never-seen group) under a lastSeenAt order", async () => {
    const d = await start({ contacts: 300, now: () => NOW, pageSize: 50, behaviour: { order: "lastSeenAt desc", unstableTies: true } });
    const reads = [(await pages(d)).flat(), (await pages(d)).flat()];
    const distinct = reads.map((r) => new Set(ids(r)).size);
    expect(Math.min(...distinct)).toBeLessThan(d.store.visible().length);
  });

  it("is reproducible: the same seed and the same requests give the same answers", async () => {
    const opts = { contacts: 300, now: () => NOW, pageSize: 7, behaviour: { unstableTies: true } };
    const [x, y] = [await start(opts), await start(opts)];
    expect(ids((await pages(x)).flat())).toEqual(ids((await pages(y)).flat()));
  });
});

describe("postFilter", () => {
  it("cuts pages from the listing of every user, then drops non-contacts: a short page, then more", async () => {
    const d = await start({ contacts: 1000, pageSize: 10, behaviour: { postFilter: true } });
    const read = await pages(d, {}, 200);
    const short = read.findIndex((p) => p.length < 10);
    expect(short).toBeGreaterThanOrEqual(0);
    expect(short).toBeLessThan(read.length - 1);
    expect(read[short + 1]!.length).toBeGreaterThan(0);
    const everything = d.store.all().filter((c) => c.status !== "DELETED");
    // Page p is exactly the contacts among users p*10 .. p*10+9.
    expect(ids(read[short]!)).toEqual(ids(everything.slice(short * 10, short * 10 + 10).filter((c) => c.isContact)));
    expect(read.flat().every((c) => c.isContact)).toBe(true);
  });

  it("a page of only non-contacts comes back empty mid-list", async () => {
    const d = await start({ contacts: 30, pageSize: 2, behaviour: { postFilter: true } });
    const users = d.store.all().filter((c) => c.status !== "DELETED");
    for (const c of users) c.isContact = true;
    users[4]!.isContact = false;
    users[5]!.isContact = false;
    expect(await rows(d, body({ page: 3 }))).toEqual([]);
    expect(ids(await rows(d, body({ page: 4 })))).toEqual(ids(users.slice(6, 8)));
    // Asking for every user (isContact false) drops nothing.
    expect(await rows(d, body({ page: 3, isContact: false }))).toHaveLength(2);
  });

  it("works with other orders too", async () => {
    const d = await start({ contacts: 1000, pageSize: 10, behaviour: { postFilter: true, order: "lastSeenAt desc" } });
    const read = await pages(d, {}, 200);
    expect(read.some((p, i) => p.length < 10 && i < read.length - 1)).toBe(true);
  });
});

describe("date bounds", () => {
  async function hand(behaviour: ApiBehaviour, stamps: string[]): Promise<ApiDouble> {
    const d = await start({ contacts: 0, behaviour });
    for (const at of stamps) d.store.insert(contactAt(at));
    return d;
  }
  const createdIn = async (d: ApiDouble, startAt: string, endsAt: string) =>
    (await rows(d, body({ applicableFilters: ["createdAt"], createdAt: { startAt, endsAt } }))).map((c) => c.createdAt).sort();
  const seenIn = async (d: ApiDouble, startAt: string, endsAt: string) =>
    (await rows(d, body({ applicableFilters: ["lastSeenAt"], lastSeenAt: { startAt, endsAt } }))).map((c) => c.lastSeenAt).sort();

  const STAMPS = ["2025-03-01T11:00:00.000Z", "2025-03-01T12:00:00.000Z", "2025-03-01T12:00:00.300Z", "2025-03-01T13:00:00.000Z"];

  it("bothBoundsRequired: a one-sided range is ignored, a two-sided one honoured", async () => {
    const plain = await hand({}, STAMPS);
    const both = await hand({ bothBoundsRequired: true }, STAMPS);
    const noon = "2025-03-01T12:00:00.000Z";
    expect(await createdIn(plain, "", noon)).toEqual(STAMPS.slice(0, 2));
    expect(await createdIn(both, "", noon)).toEqual(STAMPS);
    expect(await createdIn(both, noon, "")).toEqual(STAMPS);
    expect(await seenIn(both, "", noon)).toEqual(STAMPS);
    expect(await seenIn(plain, noon, "")).toEqual(STAMPS.slice(1));
    expect(await createdIn(both, noon, "2025-03-01T12:59:00.000Z")).toEqual(STAMPS.slice(1, 3));
    expect(await seenIn(both, noon, "2025-03-01T12:59:00.000Z")).toEqual(STAMPS.slice(1, 3));
  });

  it("boundPrecisionMs 1000: endsAt 12:00:00.500 is floored to 12:00:00.000, which excludes 12:00:00.300", async () => {
    const ms = await hand({}, STAMPS);
    const s = await hand({ boundPrecisionMs: 1000 }, STAMPS);
    const from = "2025-03-01T11:30:00.000Z";
    expect(await createdIn(ms, from, "2025-03-01T12:00:00.500Z")).toEqual(["2025-03-01T12:00:00.000Z", "2025-03-01T12:00:00.300Z"]);
    expect(await createdIn(s, from, "2025-03-01T12:00:00.500Z")).toEqual(["2025-03-01T12:00:00.000Z"]);
    expect(await seenIn(s, from, "2025-03-01T12:00:00.500Z")).toEqual(["2025-03-01T12:00:00.000Z"]);
    // A floored startAt widens instead: 12:00:00.500 becomes 12:00:00.000 and lets .000 and .300 in.
    expect(await createdIn(ms, "2025-03-01T12:00:00.500Z", "2025-03-01T12:30:00.000Z")).toEqual([]);
    expect(await createdIn(s, "2025-03-01T12:00:00.500Z", "2025-03-01T12:30:00.000Z")).toEqual(STAMPS.slice(1, 3));
  });

  it("boundPrecisionMs of a day: bounds are floored to midnight UTC", async () => {
    const d = await hand({ boundPrecisionMs: 86_400_000 }, STAMPS);
    expect(await createdIn(d, "2025-03-01T12:00:00.100Z", "2025-03-01T23:00:00.000Z")).toEqual([]);
    expect(await createdIn(d, "2025-03-01T12:00:00.100Z", "2025-03-02T01:00:00.000Z")).toEqual(STAMPS);
  });

  it("boundsInclusive false: startAt < v < endsAt", async () => {
    const inclusive = await hand({}, STAMPS);
    const exclusive = await hand({ boundsInclusive: false }, STAMPS);
    const [from, to] = [STAMPS[0]!, STAMPS[3]!];
    expect(await createdIn(inclusive, from, to)).toEqual(STAMPS);
    expect(await createdIn(exclusive, from, to)).toEqual(STAMPS.slice(1, 3));
    expect(await seenIn(exclusive, from, to)).toEqual(STAMPS.slice(1, 3));
    expect(await createdIn(exclusive, STAMPS[1]!, STAMPS[1]!)).toEqual([]);
  });

  it("refuses a precision below 1 ms", async () => {
    await expect(start({ behaviour: { boundPrecisionMs: 0 } })).rejects.toThrow(/boundPrecisionMs/);
  });
});

describe("unlistedFiltersApplied", () => {
  it("applies userInteracted, isOnline and isLiveChatActive values that are sent but not listed", async () => {
    const plain = await start({ contacts: 400, now: () => NOW });
    const applied = await start({ contacts: 400, now: () => NOW, behaviour: { unlistedFiltersApplied: true } });
    const visible = applied.store.visible();
    expect(ids(plain.store.visible())).toEqual(ids(visible));
    const sent = { userInteracted: false, isOnline: false, isLiveChatActive: false };
    expect((await pages(plain, sent)).flat()).toHaveLength(visible.length);
    const subset = (await pages(applied, sent)).flat();
    const expected = visible.filter((c) => !c.userInteracted && !c.isOnline && !c.isLiveChatActive);
    expect(expected.length).toBeGreaterThan(0);
    expect(expected.length).toBeLessThan(visible.length / 2);
    expect(ids(subset)).toEqual(ids(expected));
    // Listed filters behave as before.
    const interacted = (await pages(applied, { applicableFilters: ["userInteracted"], userInteracted: true, isOnline: false, isLiveChatActive: false })).flat();
    expect(ids(interacted)).toEqual(ids(visible.filter((c) => c.userInteracted && !c.isOnline && !c.isLiveChatActive)));
  });
});

describe("rateLimit", () => {
  it("sends X-RateLimit-* headers, then 429 with Retry-After in seconds, and recovers after the window", async () => {
    const d = await start({ contacts: 5, behaviour: { rateLimit: { limit: 3, windowMs: 1_500 } } });
    const seen: { status: number; remaining: string | null; reset: number; retryAfter: string | null }[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await post(d, body());
      await res.arrayBuffer();
      expect(res.headers.get("x-ratelimit-limit")).toBe("3");
      seen.push({
        status: res.status,
        remaining: res.headers.get("x-ratelimit-remaining"),
        reset: Number(res.headers.get("x-ratelimit-reset")),
        retryAfter: res.headers.get("retry-after"),
      });
    }
    expect(seen.map((s) => s.status)).toEqual([200, 200, 200, 429, 429]);
    expect(seen.map((s) => s.remaining)).toEqual(["2", "1", "0", "0", "0"]);
    expect(seen[0]!.retryAfter).toBeNull();
    expect(seen[3]!.retryAfter).toMatch(/^[12]$/);
    const reset = seen[0]!.reset * 1000;
    expect(reset).toBeGreaterThan(Date.now() - 1_000);
    expect(reset).toBeLessThanOrEqual(Date.now() + 2_500);
    expect(d.stats.byStatus["429"]).toBe(2);
    await new Promise((r) => setTimeout(r, Number(seen[3]!.retryAfter) * 1000 + 100));
    const again = await post(d, body());
    await again.arrayBuffer();
    expect(again.status).toBe(200);
    expect(again.headers.get("x-ratelimit-remaining")).toBe("2");
  });

  it("Retry-After as an HTTP date on the API's clock; headers on error answers too", async () => {
    const skew = -15 * MIN;
    const d = await start({ contacts: 5, behaviour: { clockSkewMs: skew, rateLimit: { limit: 2, windowMs: 60_000, retryAfter: "date" } } });
    const unauthorized = await post(d, body(), "wrong");
    await unauthorized.arrayBuffer();
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.headers.get("x-ratelimit-remaining")).toBe("1");
    await (await post(d, body())).arrayBuffer();
    const limited = await post(d, body());
    const json = (await limited.json()) as { success: boolean; code: number };
    expect(limited.status).toBe(429);
    expect(json).toMatchObject({ success: false, code: 429 });
    const date = Date.parse(limited.headers.get("date")!);
    const retryAt = Date.parse(limited.headers.get("retry-after")!);
    expect(limited.headers.get("retry-after")).toMatch(/GMT$/);
    expect(retryAt - date).toBeGreaterThan(55_000);
    expect(retryAt - date).toBeLessThanOrEqual(62_000);
    expect(Math.abs(retryAt - (Date.now() + skew + 60_000))).toBeLessThan(3_000);
    expect(Number(limited.headers.get("x-ratelimit-reset")) * 1000).toBe(retryAt);
  });

  it("setOptions replaces the behaviour and starts a new window", async () => {
    const d = await start({ contacts: 5, behaviour: { rateLimit: { limit: 1, windowMs: 60_000 } } });
    await (await post(d, body())).arrayBuffer();
    expect((await post(d, body())).status).toBe(429);
    d.setOptions({ behaviour: { rateLimit: { limit: 1, windowMs: 60_000 } } });
    expect((await post(d, body())).status).toBe(200);
    d.setOptions({ behaviour: undefined });
    const res = await post(d, body());
    expect(res.headers.get("x-ratelimit-limit")).toBeNull();
    expect(() => d.setOptions({ behaviour: { rateLimit: { limit: 0, windowMs: 1 } } })).toThrow(/rateLimit.limit/);
  });
});

describe("control route", () => {
  it("GET and POST /__control/behaviour read and replace the behaviour; bad values are 400s", async () => {
    const d = await start({ contacts: 5, control: true });
    const control = (method: string, value?: unknown) =>
      fetch(d.url + "/__control/behaviour", { method, ...(value === undefined ? {} : { body: JSON.stringify(value) }) });
    expect(await (await control("GET")).json()).toEqual({});
    const set = await control("POST", { order: "lastSeenAt asc", clockSkewMs: 60_000 });
    expect(set.status).toBe(200);
    expect(await set.json()).toEqual({ order: "lastSeenAt asc", clockSkewMs: 60_000 });
    expect(d.behaviour).toEqual({ order: "lastSeenAt asc", clockSkewMs: 60_000 });
    const bad = await control("POST", { order: "sideways" });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/behaviour.order/);
    expect(d.behaviour.order).toBe("lastSeenAt asc");
  });
});

describe("generated lastSeenAt ties", () => {
  it("are opt-in (default data unchanged) and sit across a page edge in lastSeenAt order", () => {
    const plain = generateContacts(1000, { seed: 1, now: NOW });
    expect(generateContacts(1000, { seed: 1, now: NOW, lastSeenTies: 0 })).toEqual(plain);
    const tied = generateContacts(1000, { seed: 1, now: NOW, lastSeenTies: 20 });
    const { ranked, start: first, size } = seenTieCluster(tied, 20);
    expect(size).toBe(20);
    expect(first % 50).toBe(40);
    const at = ranked[first]!.lastSeenAt;
    expect(ranked.filter((c) => c.lastSeenAt === at)).toHaveLength(20);
    // Only the cluster changed.
    const changed = tied.filter((c, i) => JSON.stringify(c) !== JSON.stringify(plain[i]));
    expect(changed.length).toBeGreaterThan(0);
    expect(changed.every((c) => c.lastSeenAt === at && c.updatedAt >= at!)).toBe(true);
  });
});

describe("api-double flags", () => {
  it("parse into the behaviour", async () => {
    vi.spyOn(console, "log").mockImplementation(() => {});
    const err = vi.spyOn(console, "error").mockImplementation(() => {});
    const d = await main([
      "--token", "t", "--contacts", "20", "--page-size", "7",
      "--clock-skew", "-15m", "--order", "lastSeenAt", "--unstable-ties", "--post-filter", "--both-bounds-required",
      "--bound-precision", "1s", "--exclusive-bounds", "--unlisted-filters-applied", "--rate-limit", "60/1m:date",
    ]);
    doubles.push(d!);
    expect(d!.behaviour).toEqual({
      clockSkewMs: -15 * MIN, order: "lastSeenAt desc", unstableTies: true, postFilter: true, bothBoundsRequired: true,
      boundPrecisionMs: 1000, boundsInclusive: false, unlistedFiltersApplied: true,
      rateLimit: { limit: 60, windowMs: 60_000, retryAfter: "date" },
    });
    expect(String(err.mock.calls[0]?.[0])).toMatch(/^api double behaviour: /);
    const res = await fetch(d!.url + "/inbox/users", { method: "POST", headers: { authorization: "Bearer t" }, body: JSON.stringify(body()) });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { data: unknown[] }).data.length).toBeLessThanOrEqual(7);
    expect(Math.abs(Date.parse(res.headers.get("date")!) - (Date.now() - 15 * MIN))).toBeLessThan(2_000);
  });

  it("accept the other spellings", () => {
    expect(["15m", "-15m", "+90s", "500ms", "-900000", "1h", "1d"].map(parseSignedDuration)).toEqual([
      900_000, -900_000, 90_000, 500, -900_000, 3_600_000, 86_400_000,
    ]);
    expect(["lastSeenAt", "createdAt-asc", "lastSeenAt asc", "LASTSEENAT:DESC", "createdAt", "createdAt_desc"].map(parseOrder)).toEqual([
      "lastSeenAt desc", "createdAt asc", "lastSeenAt asc", "lastSeenAt desc", "createdAt desc", "createdAt desc",
    ]);
    expect(["1s", "1d", "1000", "1ms"].map(parsePrecision)).toEqual([1000, 86_400_000, 1000, 1]);
    expect(parseRateLimit("60/1m")).toEqual({ limit: 60, windowMs: 60_000, retryAfter: "seconds" });
    expect(parseRateLimit("5/1000:date")).toEqual({ limit: 5, windowMs: 1000, retryAfter: "date" });
    for (const bad of ["15 min", "m", "", "1.5.2s"]) expect(parseSignedDuration(bad)).toBeUndefined();
    for (const bad of ["updatedAt", "lastSeenAt up", "createdAt desc asc"]) expect(parseOrder(bad)).toBeUndefined();
    for (const bad of ["0", "-1s", "0s", "1.5"]) expect(parsePrecision(bad)).toBeUndefined();
    for (const bad of ["0/1m", "60", "60/0", "60/-1m", "60/1m:later", "x/1m"]) expect(parseRateLimit(bad)).toBeUndefined();
  });

  it("refuse bad values with a one-line message (pointing to --help)", async () => {
    const cases: [string[], RegExp][] = [
      [["--order", "updatedAt"], /^api-double: --order must be createdAt or lastSeenAt/],
      [["--clock-skew", "soon"], /^api-double: --clock-skew must be a duration/],
      [["--bound-precision", "0"], /^api-double: --bound-precision must be a positive precision/],
      [["--rate-limit", "60"], /^api-double: --rate-limit must be requests\/window/],
      [["--last-seen-ties", "many"], /^api-double: --last-seen-ties must be a whole number/],
    ];
    for (const [flags, message] of cases) {
      const error = (await main(["--token", "t", ...flags]).catch((e: unknown) => e)) as Error;
      expect(error).toBeInstanceOf(Error);
      expect(error.message).not.toContain("\n");
      expect(error.message).toMatch(message);
      expect(error.message).toMatch(/\(see --help\)$/);
    }
    expect(USAGE).toMatch(/--clock-skew[\s\S]*--order[\s\S]*--unstable-ties[\s\S]*--post-filter[\s\S]*--both-bounds-required[\s\S]*--bound-precision[\s\S]*--exclusive-bounds[\s\S]*--unlisted-filters-applied[\s\S]*--rate-limit/);
  });

  it("through the CLI: --help lists the knobs, a bad value exits 2 with one line, no stack", async () => {
    const run = (args: string[]) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const script = `const { main } = await import("./src/cli.ts"); process.exit(await main(${JSON.stringify(args)}));`;
        const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
        child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
        child.on("exit", (code) => resolve({ code, stdout, stderr }));
      });
    const help = await run(["api-double", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("--rate-limit <n/d[:date]>");
    const bad = await run(["api-double", "--token", "t", "--order", "sideways"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr.split("\n")[0]).toBe('api-double: --order must be createdAt or lastSeenAt, optionally with asc or desc (e.g. "lastSeenAt asc", createdAt-asc), got "sideways" (see --help)');
    expect(bad.stderr).not.toMatch(/\n\s+at /);
  }, 30_000);
});
