// What an answer of the inbox API means, and what body is sent: pure functions, no server.
import { describe, expect, it } from "vitest";
import { interpretAnswer, parseRetryAfter } from "../../src/api/response.js";
import { buildRequestBody } from "../../src/api/requestBody.js";
import { ApiError } from "../../src/errors.js";
import { planIncrementalWindow, checkBackfillRange } from "../../src/sync/windows.js";

const json = (status: number, body: unknown, extra: Partial<{ retryAfter: string }> = {}) => ({
  status, contentType: "application/json", body: JSON.stringify(body), ...extra,
});

function kindOf(answer: Parameters<typeof interpretAnswer>[0]): [string, string] {
  try {
    interpretAnswer(answer);
  } catch (error) {
    expect(error).toBeInstanceOf(ApiError);
    return [(error as ApiError).kind, (error as Error).message];
  }
  return ["ok", ""];
}

describe("interpretAnswer", () => {
  it("returns the rows of a success wrapper", () => {
    expect(interpretAnswer(json(200, { success: true, data: [{ _id: "a" }] }))).toEqual([{ _id: "a" }]);
    expect(interpretAnswer(json(200, { success: true, data: [] }))).toEqual([]);
  });

  it.each([
    [json(401, { success: false, message: "Unauthorized", data: ["Invalid or expired token"] }), "auth", /401.*Invalid or expired token.*revoked/s],
    [json(403, {}), "auth", /403/],
    [json(400, { success: false, data: ["page is required"] }), "request", /refused the request with 400.*page is required.*Retrying cannot help/s],
    [json(404, {}), "request", /404.*INBOX_API_URL/s],
    [json(429, {}), "transient", /429/],
    [{ status: 502, contentType: "text/html", body: "<html><title>502 Bad Gateway</title></html>" }, "transient", /502 with an HTML page \("502 Bad Gateway"\)/],
    [{ status: 200, contentType: "text/html", body: "<html><title>Maintenance</title></html>" }, "transient", /200 with an HTML page \("Maintenance"\) instead of JSON/],
    [{ status: 200, contentType: "application/json", body: '{"success":true,"data":[{"_id":"a"' }, "transient", /not valid JSON \(truncated or garbled\)/],
    [{ status: 200, contentType: "application/json", body: "" }, "transient", /an empty body/],
    [json(200, { success: false, code: 400, data: ["bad filter"] }), "request", /reported failure \(code 400\).*bad filter/s],
    [json(200, { success: false, code: 401, data: ["token expired"] }), "auth", /token expired/],
    [json(200, { success: false, code: 503 }), "transient", /code 503/],
    [json(200, { success: true }), "shape", /no data field/],
    [json(200, { success: true, data: null }), "shape", /data: null/],
    [json(200, { success: true, data: { _id: "a" } }), "shape", /data as object/],
    [json(200, { success: true, data: "none" }), "shape", /data as string/],
    [json(200, [1, 2]), "shape", /not the expected \{success, data\} wrapper/],
    [json(200, { success: true, data: [{ name: "x" }] }), "shape", /#1 .* has no _id/],
    [json(200, { success: true, data: [{ _id: 42 }] }), "shape", /_id that is not a usable string \(number\)/],
    [json(200, { success: true, data: [{ _id: "" }] }), "shape", /_id that is not a usable string/],
    [json(200, { success: true, data: ["a"] }), "shape", /#1 of the page is not an object/],
  ])("%#: %j is %s", (answer, kind, pattern) => {
    const [k, message] = kindOf(answer);
    expect(k).toBe(kind);
    expect(message).toMatch(pattern);
  });

  it("keeps Retry-After for the client", () => {
    const error = (() => {
      try {
        interpretAnswer(json(429, {}, { retryAfter: "7" }));
      } catch (e) {
        return e as ApiError;
      }
      return undefined;
    })();
    expect(error?.details.retryAfterMs).toBe(7000);
  });
});

describe("parseRetryAfter", () => {
  it("reads seconds and HTTP dates", () => {
    expect(parseRetryAfter("3")).toBe(3000);
    expect(parseRetryAfter("0.5")).toBe(500);
    const now = Date.parse("2025-01-01T00:00:00Z");
    expect(parseRetryAfter("Wed, 01 Jan 2025 00:00:10 GMT", now)).toBe(10_000);
    expect(parseRetryAfter("soon")).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });
});

describe("buildRequestBody", () => {
  it("sends every documented field, the window listed in applicableFilters, isContact true", () => {
    const body = buildRequestBody(
      { lastSeenAt: { from: new Date("2025-01-01T00:00:00Z"), to: new Date("2025-01-02T00:00:00Z") }, createdAt: { from: null, to: new Date("2025-01-01T12:00:00.5Z") } },
      3,
      {},
    );
    expect(Object.keys(body).sort()).toEqual([
      "_agentAssigned", "_botFacebook", "_botTelegram", "_botWebsite", "_botWhatsapp", "applicableFilters", "createdAt", "hasOrdered",
      "isContact", "isExport", "isLiveChatActive", "isOnline", "lastMessageBy", "lastSeenAt", "page", "searchText", "segments", "status",
      "tags", "userInteracted",
    ]);
    expect(body.applicableFilters).toEqual(["lastSeenAt", "createdAt"]);
    expect(body.lastSeenAt).toEqual({ startAt: "2025-01-01T00:00:00.000Z", endsAt: "2025-01-02T00:00:00.000Z" });
    expect(body.createdAt).toEqual({ startAt: "", endsAt: "2025-01-01T12:00:00.500Z" });
    expect(body).toMatchObject({ page: 3, isContact: true, isExport: "none", userInteracted: false, tags: [] });
  });

  it("lists user filters that have a value, and by default filters nothing", () => {
    expect(buildRequestBody({}, 1, {}).applicableFilters).toEqual([]);
    const body = buildRequestBody({}, 1, { tags: ["vip"], status: [] });
    expect(body.tags).toEqual(["vip"]);
    expect(body.applicableFilters).toEqual(["tags"]);
  });
});

describe("planIncrementalWindow", () => {
  const now = new Date("2025-06-01T12:00:00Z");
  const base = { startAt: new Date("2020-01-01T00:00:00Z"), lookbackMs: 600_000, lagMs: 60_000, now };
  it("starts at SYNC_START_AT the first time and ends SYNC_LAG before now", () => {
    expect(planIncrementalWindow({ ...base, syncedUntil: null })).toEqual({ from: base.startAt, to: new Date("2025-06-01T11:59:00Z") });
  });
  it("re-reads SYNC_LOOKBACK behind the checkpoint", () => {
    const w = planIncrementalWindow({ ...base, syncedUntil: new Date("2025-06-01T11:00:00Z") });
    expect(w?.from).toEqual(new Date("2025-06-01T10:50:00Z"));
  });
  it("has nothing to do when the checkpoint is at the lag line", () => {
    expect(planIncrementalWindow({ ...base, lookbackMs: 0, syncedUntil: new Date("2025-06-01T11:59:00Z") })).toBeNull();
  });
  it("checks backfill ranges", () => {
    expect(checkBackfillRange(new Date("x"), now, now)).toMatch(/ISO-8601/);
    expect(checkBackfillRange(now, now, now)).toMatch(/later than --from/);
    expect(checkBackfillRange(new Date("2025-01-01"), now, now)).toBeUndefined();
  });
});
