// The API double against real HTTP requests (global fetch and node:http) on 127.0.0.1.
import http from "node:http";
import { gunzipSync } from "node:zlib";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { generateContacts, isoFromMs, tieCluster, type Contact } from "../../src/double/generate.js";
import { startApiDouble, type ApiDouble, type DoubleOptions, type FaultKind } from "../../src/double/server.js";
import { compareListing, REQUIRED_FIELDS } from "../../src/double/store.js";

const TOKEN = "test-token";
const NOW = Date.parse("2025-03-01T12:00:00.000Z");
const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

type Body = Record<string, unknown>;

function body(overrides: Body = {}): Body {
  return {
    searchText: "",
    tags: [],
    status: [],
    isOnline: false,
    _botWebsite: [],
    _botWhatsapp: [],
    _botTelegram: [],
    _botFacebook: [],
    _agentAssigned: [],
    segments: [],
    applicableFilters: [],
    lastSeenAt: { startAt: "", endsAt: "" },
    createdAt: { startAt: "", endsAt: "" },
    userInteracted: false,
    lastMessageBy: [],
    isLiveChatActive: false,
    hasOrdered: { status: false, lastAt: "" },
    page: 1,
    isExport: "none",
    isContact: true,
    ...overrides,
  };
}

function post(d: ApiDouble, b: Body | string, { token = TOKEN, headers = {} as Record<string, string> } = {}): Promise<Response> {
  return fetch(d.url + "/inbox/users", {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, authtype: "Key", "content-type": "application/json", ...headers },
    body: typeof b === "string" ? b : JSON.stringify(b),
  });
}

async function rows(d: ApiDouble, b: Body): Promise<Contact[]> {
  const res = await post(d, b);
  const json = (await res.json()) as { data: Contact[] };
  expect(res.status, JSON.stringify(json)).toBe(200);
  return json.data;
}

/** Pages through until an empty page, as integrations do. */
async function listAll(d: ApiDouble, b: Body = {}): Promise<Contact[]> {
  const out: Contact[] = [];
  for (let page = 1; ; page++) {
    const data = await rows(d, body({ ...b, page }));
    if (data.length === 0) return out;
    out.push(...data);
  }
}

/** A raw request, to see bytes and headers exactly as sent. */
function rawPost(d: ApiDouble, b: Body, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer; error?: Error }> {
  return new Promise((resolve, reject) => {
    const req = http.request(d.url + "/inbox/users", {
      method: "POST",
      agent: false,
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json", ...headers },
    });
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      const done = (error?: Error) => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks), error });
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => done());
      res.on("error", (e) => done(e));
      res.on("aborted", () => done(new Error("aborted")));
    });
    req.on("error", reject);
    req.end(JSON.stringify(b));
  });
}

const doubles: ApiDouble[] = [];
async function start(opts: Partial<DoubleOptions> = {}): Promise<ApiDouble> {
  const d = await startApiDouble({ token: TOKEN, now: () => NOW, seed: 3, ...opts });
  doubles.push(d);
  return d;
}
afterAll(async () => {
  await Promise.all(doubles.map((d) => d.close()));
});

describe("wrapper, auth and validation", () => {
  let d: ApiDouble;
  beforeAll(async () => {
    d = await start({ contacts: 120 });
  });

  it("answers with the documented wrapper and no totals", async () => {
    const res = await post(d, body());
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    const json = (await res.json()) as Record<string, unknown>;
    expect(Object.keys(json).sort()).toEqual(["code", "data", "message", "success"]);
    expect(json).toMatchObject({ success: true, message: "ok", code: 200 });
    expect(json.data).toHaveLength(50);
  });

  it("refuses a missing or wrong token with 401 and the error wrapper", async () => {
    const unauthorized = { success: false, message: "Unauthorized", code: 401, data: ["Invalid or expired token"] };
    const wrong = await post(d, body(), { token: "nope" });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toEqual(unauthorized);
    const missing = await fetch(d.url + "/inbox/users", { method: "POST", body: JSON.stringify(body()) });
    expect(missing.status).toBe(401);
    expect(await missing.json()).toEqual(unauthorized);
  });

  it("answers 404 with the wrapper on other paths and methods", async () => {
    for (const res of [await fetch(d.url + "/inbox/contacts", { method: "POST" }), await fetch(d.url + "/inbox/users")]) {
      expect(res.status).toBe(404);
      expect(await res.json()).toMatchObject({ success: false, code: 404 });
    }
  });

  it("requires every documented field", async () => {
    for (const field of REQUIRED_FIELDS) {
      const b = body();
      delete b[field];
      const res = await post(d, b);
      expect(res.status, field).toBe(400);
      expect(await res.json()).toEqual({ success: false, message: `${field} is required`, code: 400, data: [`${field} is required`] });
    }
  });

  it("refuses bad pages, bad dates and unparsable JSON with 400", async () => {
    for (const page of [0, -1, 1.5, "1", null]) {
      const res = await post(d, body({ page }));
      expect(res.status, String(page)).toBe(400);
      expect(((await res.json()) as { data: string[] }).data[0]).toMatch(/^page must be an integer/);
    }
    const badDate = await post(d, body({ applicableFilters: ["createdAt"], createdAt: { startAt: "yesterday-ish", endsAt: "" } }));
    expect(badDate.status).toBe(400);
    expect(((await badDate.json()) as { data: string[] }).data).toEqual(["createdAt.startAt must be a valid date"]);
    const garbled = await post(d, "{not json");
    expect(garbled.status).toBe(400);
    expect(await garbled.json()).toMatchObject({ success: false, code: 400 });
    expect(d.stats.byStatus["400"]).toBeGreaterThan(0);
  });
});

describe("listing", () => {
  let d: ApiDouble;
  beforeAll(async () => {
    d = await start({ contacts: 500 });
  });

  it("pages through the whole ordered list in disjoint pages, then an empty page", async () => {
    const pages: Contact[][] = [];
    for (let page = 1; page <= 12; page++) pages.push(await rows(d, body({ page })));
    const all = pages.flat();
    const expected = d.store.visible();
    expect(expected.length).toBeGreaterThan(480); // a few generated contacts are deleted or not contacts
    expect(all.map((c) => c._id)).toEqual(expected.map((c) => c._id));
    expect(new Set(all.map((c) => c._id)).size).toBe(all.length);
    expect(pages.slice(0, 9).every((p) => p.length === 50)).toBe(true);
    expect(pages[pages.length - 1]).toEqual([]);
    expect(await rows(d, body({ page: 1000 }))).toEqual([]);
  });

  it("orders by createdAt descending, ties by _id descending, with a tie cluster across a page edge", async () => {
    const all = await listAll(d);
    for (let i = 1; i < all.length; i++) expect(compareListing(all[i - 1]!, all[i]!)).toBeLessThan(0);
    const { start: at, size } = tieCluster(500);
    expect(size).toBe(20);
    const cluster = d.store.all().slice(at, at + size);
    expect(new Set(cluster.map((c) => c.createdAt)).size).toBe(1);
    expect(at % 50).toBeGreaterThan(50 - size); // straddles a multiple of the default page size
  });

  it("applies a createdAt window inclusively, and only when listed", async () => {
    const list = d.store.visible();
    const from = list[300]!.createdAt;
    const to = list[100]!.createdAt;
    const window = { createdAt: { startAt: from, endsAt: to } };
    const got = await listAll(d, { ...window, applicableFilters: ["createdAt"] });
    expect(got.map((c) => c._id)).toEqual(list.filter((c) => c.createdAt >= from && c.createdAt <= to).map((c) => c._id));
    expect(got[0]!.createdAt).toBe(to);
    expect(got[got.length - 1]!.createdAt).toBe(from);
    expect(await listAll(d, window)).toHaveLength(list.length); // not listed: ignored

    const openStart = await listAll(d, { createdAt: { startAt: "", endsAt: to }, applicableFilters: ["createdAt"] });
    expect(openStart.length).toBe(list.filter((c) => c.createdAt <= to).length);
  });

  it("applies a lastSeenAt window inclusively and leaves out never-seen contacts", async () => {
    const list = d.store.visible();
    const seen = list.filter((c) => c.lastSeenAt !== null).map((c) => c.lastSeenAt!).sort();
    expect(seen.length).toBeLessThan(list.length);
    const from = seen[100]!;
    const to = seen[200]!;
    const got = await listAll(d, { lastSeenAt: { startAt: from, endsAt: to }, applicableFilters: ["lastSeenAt"] });
    const expected = list.filter((c) => c.lastSeenAt !== null && c.lastSeenAt >= from && c.lastSeenAt <= to);
    expect(got.map((c) => c._id)).toEqual(expected.map((c) => c._id));
    expect(got.some((c) => c.lastSeenAt === from) && got.some((c) => c.lastSeenAt === to)).toBe(true);
  });

  it("ignores the date filters when told to (an API that ignores the window)", async () => {
    const filtered = { createdAt: { startAt: d.store.visible()[60]!.createdAt, endsAt: "" }, applicableFilters: ["createdAt"] };
    expect(await listAll(d, filtered)).toHaveLength(61);
    d.setOptions({ honourDateFilters: false });
    try {
      expect(await listAll(d, filtered)).toHaveLength(d.store.visible().length);
    } finally {
      d.setOptions({ honourDateFilters: true });
    }
  });

  it("never returns non-contacts when isContact is true", async () => {
    const nonContacts = d.store.all().filter((c) => !c.isContact && c.status !== "DELETED");
    expect(nonContacts.length).toBeGreaterThan(0);
    const got = await listAll(d);
    expect(got.every((c) => c.isContact)).toBe(true);
    const everyone = await listAll(d, { isContact: false });
    expect(everyone.length).toBe(got.length + nonContacts.length);
  });

  it("applies tags, status and userInteracted only when listed", async () => {
    const list = d.store.visible();
    const byStatus = await listAll(d, { status: ["INPROGRESS", "REVIEW"], applicableFilters: ["status"] });
    expect(byStatus.length).toBe(list.filter((c) => c.status === "INPROGRESS" || c.status === "REVIEW").length);
    const byTag = await listAll(d, { tags: ["vip"], applicableFilters: ["tags"] });
    expect(byTag.length).toBeGreaterThan(0);
    expect(byTag.every((c) => c.profile.userDetails?.tags.includes("vip"))).toBe(true);
    const interacted = await listAll(d, { userInteracted: true, applicableFilters: ["userInteracted"] });
    expect(interacted.length).toBe(list.filter((c) => c.userInteracted).length);
    expect(await listAll(d, { status: ["REVIEW"] })).toHaveLength(list.length);
  });

  it("compresses answers when asked for gzip", async () => {
    const res = await rawPost(d, body(), { "accept-encoding": "gzip" });
    expect(res.headers["content-encoding"]).toBe("gzip");
    expect(JSON.parse(gunzipSync(res.body).toString("utf8")).data).toHaveLength(50);
    const plain = await rawPost(d, body());
    expect(plain.headers["content-encoding"]).toBeUndefined();
    expect(JSON.parse(plain.body.toString("utf8")).data).toHaveLength(50);
    const viaFetch = await post(d, body(), { headers: { "accept-encoding": "gzip" } });
    expect(viaFetch.headers.get("content-encoding")).toBe("gzip");
    expect(((await viaFetch.json()) as { data: unknown[] }).data).toHaveLength(50);
  });

  it("honours a changed page size without announcing it", async () => {
    d.setOptions({ pageSize: 7 });
    try {
      const res = (await (await post(d, body({ page: 2 }))).json()) as { data: Contact[] };
      expect(res.data.map((c) => c._id)).toEqual(d.store.visible().slice(7, 14).map((c) => c._id));
    } finally {
      d.setOptions({ pageSize: 50 });
    }
  });
});

describe("faults", () => {
  let d: ApiDouble;
  beforeAll(async () => {
    d = await start({ contacts: 60 });
  });
  afterEach(() => d.setOptions({ faults: undefined }));
  const only = (kind: FaultKind, extra: object = {}) => d.setOptions({ faults: { rate: 1, kinds: [kind], ...extra } });

  it("answers 429 with and without Retry-After", async () => {
    only("429", { retryAfterSeconds: 7 });
    const res = await post(d, body());
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("7");
    expect(await res.json()).toMatchObject({ success: false, code: 429 });
    only("429-no-retry-after");
    const bare = await post(d, body());
    expect(bare.status).toBe(429);
    expect(bare.headers.get("retry-after")).toBeNull();
  });

  it("answers 5xx with a proxy's HTML page", async () => {
    for (const [kind, status] of [["500-html", 500], ["502-html", 502], ["503-html", 503]] as const) {
      only(kind);
      const res = await post(d, body());
      expect(res.status).toBe(status);
      expect(res.headers.get("content-type")).toMatch(/^text\/html/);
      const text = await res.text();
      expect(text).toContain(`<h1>${status} `);
      expect(text).toContain("nginx");
      expect(() => JSON.parse(text)).toThrow();
    }
    expect(d.stats.byStatus["502"]).toBe(1);
  });

  it("answers 200 with an HTML page", async () => {
    only("html-200");
    const res = await post(d, body());
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    await expect(res.json()).rejects.toThrow();
  });

  it("resets the connection", async () => {
    only("reset");
    const before = d.stats.byStatus.reset ?? 0;
    await expect(post(d, body())).rejects.toThrow();
    expect(d.stats.byStatus.reset).toBe(before + 1);
  });

  it("truncates a 200 answer: half the announced body, then the connection drops", async () => {
    only("truncated");
    const raw = await rawPost(d, body());
    expect(raw.status).toBe(200);
    expect(raw.body.length).toBeLessThan(Number(raw.headers["content-length"]));
    expect(() => JSON.parse(raw.body.toString("utf8"))).toThrow();
    const res = await post(d, body());
    expect(res.status).toBe(200);
    await expect(res.text().then((t) => JSON.parse(t))).rejects.toThrow();
  });

  it("answers slowly but correctly", async () => {
    only("slow", { slowMs: 300 });
    const started = Date.now();
    const data = await rows(d, body());
    expect(data).toHaveLength(50);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  });

  it("checks auth before drawing faults, and counts faults", async () => {
    only("502-html");
    expect((await post(d, body(), { token: "nope" })).status).toBe(401);
    const before = d.stats.faults;
    await post(d, body());
    expect(d.stats.faults).toBe(before + 1);
  });

  it("draws the same faults for the same seed", async () => {
    const statuses = async (seed: number) => {
      const x = await start({ contacts: 10, seed, faults: { rate: 0.5, kinds: ["429", "502-html"] } });
      const out: number[] = [];
      for (let i = 0; i < 20; i++) out.push((await post(x, body())).status);
      return out;
    };
    const a = await statuses(11);
    expect(await statuses(11)).toEqual(a);
    expect(new Set(a)).toEqual(new Set([200, 429, 502]));
  });

  it("waits latencyMs before every answer", async () => {
    d.setOptions({ latencyMs: 150 });
    try {
      const started = Date.now();
      await Promise.all([post(d, body()), post(d, body()), post(d, body({ page: 0 }))]);
      expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    } finally {
      d.setOptions({ latencyMs: 0 });
    }
  });
});

describe("mutations", () => {
  let clock = NOW;
  const now = () => clock;

  it("see moves lastSeenAt (and updatedAt) to now, at ms precision", async () => {
    const d = await start({ contacts: 100, now });
    const target = d.store.visible()[70]!;
    const v = target.__v;
    clock = NOW + 60_123;
    d.store.see(target._id);
    expect(target.lastSeenAt).toBe(isoFromMs(clock));
    expect(target.updatedAt).toBe(target.lastSeenAt);
    expect(target.__v).toBe(v + 1);
    const got = await listAll(d, { lastSeenAt: { startAt: isoFromMs(NOW + 60_000), endsAt: "" }, applicableFilters: ["lastSeenAt"] });
    expect(got.map((c) => c._id)).toEqual([target._id]);
  });

  it("editSilently changes the contact and updatedAt but not lastSeenAt", async () => {
    const d = await start({ contacts: 100, now });
    const target = d.store.visible().find((c) => c.lastSeenAt !== null)!;
    const { lastSeenAt, updatedAt, __v } = target;
    clock += 1000;
    d.store.editSilently(target._id, { profile: { userDetails: { name: "Renamed O'Neil" } }, lastSeenAt: "2030-01-01T00:00:00.000Z" });
    expect(target.profile.userDetails?.name).toBe("Renamed O'Neil");
    expect(target.lastSeenAt).toBe(lastSeenAt);
    expect(target.updatedAt).not.toBe(updatedAt);
    expect(target.__v).toBe(__v + 1);
    for (const id of d.store.randomIds(20)) {
      const c = d.store.get(id)!;
      const before = { lastSeenAt: c.lastSeenAt, json: JSON.stringify(c) };
      d.store.editSilently(id);
      expect(c.lastSeenAt).toBe(before.lastSeenAt);
      expect(JSON.stringify(c)).not.toBe(before.json);
    }
    const [served] = (await listAll(d)).filter((c) => c._id === target._id);
    expect(served?.profile.userDetails?.name).toBe("Renamed O'Neil");
  });

  it("delete hides a contact unless deleted contacts are visible; restore brings it back", async () => {
    const d = await start({ contacts: 100, now });
    const target = d.store.visible()[10]!;
    const status = target.status;
    d.store.delete(target._id);
    expect((await listAll(d)).some((c) => c._id === target._id)).toBe(false);
    d.setOptions({ deletedVisible: true });
    expect((await listAll(d)).find((c) => c._id === target._id)?.status).toBe("DELETED");
    d.setOptions({ deletedVisible: false });
    d.store.restore(target._id);
    expect(target.status).toBe(status);
    expect((await listAll(d)).some((c) => c._id === target._id)).toBe(true);
  });

  it("create puts new contacts first, created and seen now", async () => {
    const d = await start({ contacts: 100, now });
    clock += 5000;
    const created = d.store.create(3);
    const first = await rows(d, body());
    expect(first.slice(0, 3).map((c) => c._id).sort()).toEqual(created.map((c) => c._id).sort());
    for (const c of first.slice(0, 3)) {
      expect(c.createdAt).toBe(isoFromMs(clock));
      expect(c.lastSeenAt).toBe(c.createdAt);
    }
    expect(d.store.get(created[0]!._id)).toBe(created[0]);
  });

  it("runs random mutations on a timer until stopped", async () => {
    const d = await start({ contacts: 200, now });
    const before = JSON.stringify(d.store.all());
    d.startMutations({ everyMs: 10, see: 2, create: 1, editSilently: 1, delete: 1 });
    for (let i = 0; i < 100 && d.store.size < 203; i++) await new Promise((r) => setTimeout(r, 10));
    d.stopMutations();
    const size = d.store.size;
    expect(size).toBeGreaterThanOrEqual(203);
    expect(JSON.stringify(d.store.all())).not.toBe(before);
    await new Promise((r) => setTimeout(r, 40));
    expect(d.store.size).toBe(size);
  });

  it("beforeAnswer runs before each answer: data shifting between pages duplicates rows", async () => {
    const seen: { n: number; page: number }[] = [];
    const d = await start({
      contacts: 30,
      pageSize: 10,
      now,
      beforeAnswer: (req, double) => {
        seen.push({ n: req.n, page: req.page });
        if (req.page === 2) double.store.create(4);
      },
    });
    const page1 = await rows(d, body({ page: 1 }));
    const page2 = await rows(d, body({ page: 2 }));
    expect(seen).toEqual([{ n: 1, page: 1 }, { n: 2, page: 2 }]);
    const overlap = page2.filter((c) => page1.some((p) => p._id === c._id));
    expect(overlap).toHaveLength(4); // offset paging over a growing list: the classic duplicates

    d.setOptions({ beforeAnswer: (req, double) => { if (req.page === 3) double.setOptions({ token: "rotated" }); } });
    expect((await post(d, body({ page: 3 }))).status).toBe(401); // a token revoked mid-run
    expect((await post(d, body({ page: 3 }), { token: "rotated" })).status).toBe(200);
  });
});

describe("generated data", () => {
  it("is deterministic by seed", async () => {
    const a = generateContacts(300, { seed: 5, now: NOW });
    expect(generateContacts(300, { seed: 5, now: NOW })).toEqual(a);
    expect(generateContacts(300, { seed: 6, now: NOW })).not.toEqual(a);
    const [x, y] = [await start({ contacts: 50, seed: 9 }), await start({ contacts: 50, seed: 9 })];
    expect(await listAll(x!)).toEqual(await listAll(y!));
    expect(x!.store.randomIds(5)).toEqual(y!.store.randomIds(5));
  });

  it("looks like the fixture, messy parts included", () => {
    const all = generateContacts(5000, { seed: 2, now: NOW });
    const twoYearsAgo = NOW - 731 * 86_400_000;
    for (const c of all) {
      expect(c._id).toMatch(/^[0-9a-f]{24}$/);
      expect(c.createdAt).toMatch(ISO_MS);
      expect(c.updatedAt).toMatch(ISO_MS);
      expect(Date.parse(c.createdAt)).toBeGreaterThan(twoYearsAgo);
      if (c.lastSeenAt !== null) {
        expect(c.lastSeenAt).toMatch(ISO_MS);
        expect(c.lastSeenAt >= c.createdAt && Date.parse(c.lastSeenAt) <= NOW).toBe(true);
      }
      const d = c.profile.userDetails;
      const p = c.platform[0];
      expect(d?.whatsAppNumber === undefined || p === "WHATSAPP").toBe(true);
      expect(d?.telegramUserName === undefined || p === "TELEGRAM").toBe(true);
      expect(d?.instagramProfileId === undefined || p === "INSTAGRAM").toBe(true);
      expect(d?.facebookProfileId === undefined || p === "FACEBOOK").toBe(true);
    }
    for (let i = 1; i < all.length; i++) expect(compareListing(all[i - 1]!, all[i]!)).toBeLessThan(0);
    expect(new Set(all.map((c) => c._id)).size).toBe(all.length);
    expect(new Set(all.map((c) => c.createdAt)).size).toBe(all.length - tieCluster(all.length).size + 1);
    const share = (f: (c: Contact) => boolean) => all.filter(f).length / all.length;
    expect(new Set(all.map((c) => c.platform[0]))).toEqual(new Set(["WHATSAPP", "WEBSITE", "TELEGRAM", "FACEBOOK", "INSTAGRAM"]));
    expect(new Set(all.map((c) => c.profile.userDetails?.contact?.phone?.prefix).filter(Boolean))).toEqual(new Set(["1", "91", "+44", "44"]));
    expect(share((c) => /^0/.test(c.profile.userDetails?.contact?.phone?.number ?? ""))).toBeGreaterThan(0.01);
    expect(share((c) => /[ -]/.test(c.profile.userDetails?.contact?.phone?.number ?? ""))).toBeGreaterThan(0.01);
    expect(share((c) => !c.profile.userDetails?.name)).toBeGreaterThan(0.02);
    expect(share((c) => !c.profile.userDetails?.contact)).toBeGreaterThan(0.02);
    expect(share((c) => /[^\x00-\x7f]/.test(c.profile.userDetails?.name ?? ""))).toBeGreaterThan(0.01);
    expect(share((c) => /[\u0590-\u06ff]/.test(c.profile.userDetails?.name ?? ""))).toBeGreaterThan(0);
    expect(share((c) => /["']/.test(c.profile.userDetails?.name ?? ""))).toBeGreaterThan(0);
    expect(share((c) => c.lastSeenAt === null)).toBeGreaterThan(0);
    expect(share((c) => c.utm !== undefined || c.customFlags !== undefined)).toBeGreaterThan(0.01);
    expect(share((c) => c.status === "OPEN" || c.status === "CLOSED")).toBeGreaterThan(0.85);
    expect(share((c) => !c.isContact)).toBeGreaterThan(0);
    expect(share((c) => !c.isContact)).toBeLessThan(0.05);
  });

  it("holds 200,000 contacts and answers a seek page", async () => {
    const d = await start({ contacts: 200_000, seed: 4 });
    expect(d.store.size).toBe(200_000);
    const bound = d.store.all()[150_000]!.createdAt;
    const data = await rows(d, body({ createdAt: { startAt: "", endsAt: bound }, applicableFilters: ["createdAt"] }));
    expect(data).toHaveLength(50);
    const expected = d.store.visible().filter((c) => c.createdAt <= bound).slice(0, 50);
    expect(data.map((c) => c._id)).toEqual(expected.map((c) => c._id));
    await d.close();
  });
});

describe("close", () => {
  it("closes with keep-alive connections and slow answers in flight", async () => {
    const d = await startApiDouble({ token: TOKEN, contacts: 5, faults: { rate: 1, kinds: ["slow"], slowMs: 60_000 } });
    const agent = new http.Agent({ keepAlive: true });
    await new Promise<void>((resolve) => http.get(d.url + "/", { agent }, (res) => res.resume().on("end", resolve)));
    const pending = post(d, body()).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 50));
    await d.close();
    expect(await pending).toBeInstanceOf(Error);
    await expect(post(d, body())).rejects.toThrow();
    agent.destroy();
  });
});
