// The probe's pure judgements (page size, order, short pages, ties, clock), and probeApi itself against the
// real API double over HTTP: its budget, and what it finds on the documented guess.
import { afterEach, describe, expect, it } from "vitest";
import { InboxClient } from "../../src/api/client.js";
import type { RawContact } from "../../src/api/response.js";
import { ApiError } from "../../src/errors.js";
import { startApiDouble, type ApiDouble, type DoubleOptions } from "../../src/double/server.js";
import { clockSkew, detectOrder, findTieGroup, pageSizeOf, probeApi, shortPagesOf } from "../../src/probe/probe.js";
import { quietLogger } from "../helpers/logs.js";
import { TOKEN } from "../helpers/sync.js";

const logger = quietLogger();
const T0 = Date.parse("2026-06-01T12:00:00.000Z");
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const row = (i: number, createdAt: number, lastSeenAt: number | null = createdAt): RawContact => ({ _id: `id${i}`, createdAt: iso(createdAt), lastSeenAt: iso(lastSeenAt) });

describe("the probe's judgements", () => {
  it("takes the page size from pages followed by a non-empty page only", () => {
    expect(pageSizeOf([50, 50, 20, 0])).toBe(50);
    expect(pageSizeOf([30, 0])).toBeNull(); // one page: its length says nothing about the page size
    expect(pageSizeOf([49, 50, 48])).toBe(50);
  });

  it("sees short pages mid-list only with two pages that did not end the list", () => {
    expect(shortPagesOf([50, 49, 50, 0], 50)).toBe(true);
    expect(shortPagesOf([50, 50, 50, 12, 0], 50)).toBe(false);
    expect(shortPagesOf([50, 12, 0], 50)).toBeNull();
    expect(shortPagesOf([12, 0], null)).toBeNull();
  });

  it("finds the order field and direction, with never-seen contacts at the end of lastSeenAt desc only", () => {
    const random = [5, 1, 9, 3, 7, 2, 8, 0, 6, 4];
    const bySeen = Array.from({ length: 10 }, (_, i) => row(i, T0 - random[i]! * 1000, T0 - i * 1000));
    bySeen.push(row(10, T0, null), row(11, T0 - 5, null));
    expect(detectOrder(bySeen).order).toEqual({ field: "lastSeenAt", direction: "desc" });
    expect(detectOrder([...bySeen].reverse()).order).toEqual({ field: "lastSeenAt", direction: "asc" });
    const nullInside = [...bySeen];
    nullInside.splice(3, 0, row(12, T0, null));
    expect(detectOrder(nullInside).order).toBeNull();
    const byCreated = Array.from({ length: 10 }, (_, i) => row(i, T0 - i * 1000, T0 - random[i]! * 1000));
    expect(detectOrder(byCreated).order).toEqual({ field: "createdAt", direction: "desc" });
    expect(detectOrder(byCreated.slice(0, 3))).toMatchObject({ order: null, note: expect.stringMatching(/too few rows/) });
  });

  it("takes createdAt when both fields fit, and says so", () => {
    const both = Array.from({ length: 10 }, (_, i) => row(i, T0 - i * 1000, T0 - i * 500));
    expect(detectOrder(both)).toMatchObject({ order: { field: "createdAt", direction: "desc" }, note: expect.stringMatching(/both createdAt and lastSeenAt fit/) });
  });

  it("finds the largest tie group on the sort field, never a group of nulls", () => {
    const rows = [row(1, T0), row(2, T0 - 5), row(3, T0 - 5), row(4, T0 - 9, null), row(5, T0 - 9, null), row(6, T0 - 9, null), row(7, T0 - 20)];
    expect(findTieGroup(rows, "createdAt")).toEqual({ field: "createdAt", value: T0 - 9, ids: ["id4", "id5", "id6"] });
    expect(findTieGroup(rows, "lastSeenAt")).toEqual({ field: "lastSeenAt", value: T0 - 5, ids: ["id2", "id3"] });
    expect(findTieGroup([row(1, T0), row(2, T0 - 1)], "createdAt")).toBeNull();
  });

  it("measures the skew from Date headers, and takes a future stamp as proof when there is none", () => {
    const at = (sent: number, serverDate?: number, rows: RawContact[] = []) => ({ sentAt: sent, receivedAt: sent + 20, rows, ...(serverDate === undefined ? {} : { serverDate }) });
    // The API 60 s ahead: its Date header (whole seconds) reads 60 s past our midpoint, truncated.
    const ahead = clockSkew([at(T0, T0 + 60_000), at(T0 + 1_300, T0 + 61_000), at(T0 + 2_600, T0 + 62_000)]);
    expect(Math.abs(ahead.skewMs! - 60_000)).toBeLessThan(1_000);
    const stamped = clockSkew([at(T0, undefined, [row(1, T0 + 30_000)])]);
    expect(stamped.skewMs).toBe(30_000 - 20);
    expect(stamped.notes.join("\n")).toMatch(/at least that far ahead/);
    expect(clockSkew([at(T0)]).skewMs).toBeNull();
  });
});

describe("probeApi against the API double", () => {
  let double: ApiDouble | undefined;
  let clients: InboxClient[] = [];
  afterEach(async () => {
    for (const c of clients) await c.close();
    clients = [];
    await double?.close();
    double = undefined;
  });

  async function start(options: Partial<DoubleOptions> = {}, token = TOKEN) {
    double = await startApiDouble({ token: TOKEN, contacts: 300, pageSize: 50, ...options });
    const make = (filters: Record<string, unknown>) => {
      const c = new InboxClient({ baseUrl: new URL(double!.url), token, filters, timeoutMs: 5_000, retries: 2, logger, minBackoffMs: 5, maxBackoffMs: 50 });
      clients.push(c);
      return c;
    };
    return { client: make({}), withFilters: make };
  }

  it("measures the documented guess within the budget, counting every request it made", async () => {
    const { client, withFilters } = await start();
    const profile = await probeApi(client, { logger, withFilters });
    expect(profile).toMatchObject({
      pageSize: 50,
      order: { field: "createdAt", direction: "desc" },
      stableTies: true,
      shortPagesMidList: false,
      bothBoundsRequired: false,
      boundPrecisionMs: 1,
      boundsInclusive: true,
      unlistedFiltersApplied: false,
      dateFiltersHonoured: { createdAt: true, lastSeenAt: true },
      rateLimit: null,
    });
    expect(Math.abs(profile.clockSkewMs!)).toBeLessThan(2_000);
    expect(profile.requests).toBe(double!.stats.requests);
    expect(profile.requests).toBeLessThanOrEqual(40);
  });

  it("never makes more requests than maxRequests, and says what it could not measure", async () => {
    const { client, withFilters } = await start();
    const profile = await probeApi(client, { logger, withFilters, maxRequests: 8 });
    expect(double!.stats.requests).toBeLessThanOrEqual(8);
    expect(profile.requests).toBe(double!.stats.requests);
    expect(profile.notes.join("\n")).toMatch(/request budget \(8\) was spent/);
    expect(profile.pageSize).toBe(50); // the listing itself came first
  });

  it("waits for a used-up rate-limit window instead of meeting 429s", async () => {
    const { client, withFilters } = await start({ behaviour: { rateLimit: { limit: 6, windowMs: 500 } } });
    const profile = await probeApi(client, { logger, withFilters });
    expect(double!.stats.byStatus["429"] ?? 0).toBe(0);
    expect(profile.rateLimit).toMatchObject({ limit: 6 });
    expect(profile.order).toEqual({ field: "createdAt", direction: "desc" });
  });

  it("lets a refused token propagate as the client's auth error after one request", async () => {
    const { client } = await start({}, "not-the-token-1234");
    const error = await probeApi(client, { logger }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).kind).toBe("auth");
    expect(double!.stats.requests).toBe(1);
  });

  it("stops on the signal", async () => {
    const { client } = await start({ latencyMs: 20 });
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 50);
    await expect(probeApi(client, { logger, signal: stop.signal })).rejects.toThrow(/Stopped on request/);
  });
});
