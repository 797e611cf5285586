// Bad input from the API: each case is an answer the double never gives on its own, produced by a real HTTP
// proxy in front of it that replaces or rewrites the answer to the second request of a pass (the first page
// is good and committed). Each case ends one of two ways:
// - a clear error, with the message given in the case: the run fails, the first page stays committed with
//   its checkpoint, nothing of the bad page is written, and the next run (good answers again) resumes
//   there and completes the mirror;
// - a documented tolerance (README "Data handling", src/records/mapContact.ts): the run succeeds, the
//   data is stored as documented (and logged where the README says so), and a reconcile with good answers
//   makes the mirror equal to the double's contacts again.
// Every case runs the real engine (runIncremental/runReconcile) with the real HTTP client over sockets, into
// the suite's PostgreSQL; each case under an account of its own.
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type pg from "pg";
import { InboxClient } from "../../src/api/client.js";
import { startApiDouble, type ApiDouble } from "../../src/double/server.js";
import { runIncremental, runReconcile, type SyncContext } from "../../src/sync/runPass.js";
// These tests know their API (the double as documented): they read with that strategy instead of measuring it first.
import { guessedStrategy } from "../../src/sync/strategy.js";
import { createDatabase, type TestDatabase } from "../helpers/db.js";
import { capturingLogger } from "../helpers/logs.js";
import { startScripted, type Scripted } from "../helpers/scripted.js";
import {
  EXACT, TOKEN, compareMirror, exactness, expectedRaw, mirrorRows, observe, ok, readCheckpoints, startProxy, testPool,
  type Proxy, type ProxyAnswer, type ProxyRequest, type Upstream,
} from "./lib.js";

const PAGE = 20;
const START_AT = new Date("2000-01-01T00:00:00Z");
/** The client's body limit in these tests (the product's default is 64 MiB; the code path is the same). */
const MAX_BODY = 1024 * 1024;

let double: ApiDouble;
let proxy: Proxy;
let redirectTarget: Scripted;
let db: TestDatabase;
let pool: pg.Pool;
let caseNumber = 0;

beforeAll(async () => {
  double = await startApiDouble({ token: TOKEN, contacts: 150, pageSize: PAGE, seed: 5 });
  proxy = await startProxy(double.url);
  redirectTarget = await startScripted(() => ({ status: 200, body: JSON.stringify({ success: true, data: [] }) }));
  db = await createDatabase();
  db.pool.options.max = 6;
  pool = testPool(db.url);
});

afterAll(async () => {
  await pool?.end();
  await proxy?.close();
  await redirectTarget?.close();
  await double?.close();
  await db?.drop();
});

type Row = Record<string, unknown> & { _id: string; createdAt: string };
const rowsOf = (u: Upstream): Row[] => (JSON.parse(u.body) as { data: Row[] }).data;

/** Answer the requests from `from` on (default: the second, i.e. the second page) with `answer`. */
function from2(answer: (rows: Row[], n: number) => ProxyAnswer, from = 2) {
  return async (req: ProxyRequest, upstream: () => Promise<Upstream>) => (req.n >= from ? answer(rowsOf(await upstream()), req.n) : undefined);
}

const html = (status: number, body: string, type = "text/html; charset=utf-8"): ProxyAnswer => ({ status, body, headers: { "content-type": type } });
const wrapper = (value: unknown): ProxyAnswer => ({ status: 200, body: JSON.stringify(value) });
const later = (iso: string, years: number) => iso.replace(/^\d{4}/, (y) => String(Number(y) + years));
const swapFirstTwo = (rows: Row[]) => [rows[1]!, rows[0]!, ...rows.slice(2)];
const withRow = (rows: Row[], i: number, patch: (r: Row) => unknown): Row[] => rows.map((r, j) => (j === i ? patch(r) : r)) as Row[];

interface ErrorCase {
  name: string;
  message: RegExp;
  tamper: ReturnType<typeof from2>;
  /** Attempts of the bad request: 2 when retried once (INBOX_RETRIES=1 here), else 1. */
  attempts: 1 | 2;
}

const ERRORS: ErrorCase[] = [
  { name: "200 with a body that is not JSON", attempts: 2, tamper: from2(() => ({ status: 200, body: "ok, no json" })),
    message: /answered 200 with 11 bytes that are not valid JSON \(truncated or garbled\) instead of JSON\. Gave up after 2 attempts\. Nothing of this page was written and the checkpoint is unchanged/ },
  { name: "200 with an empty body", attempts: 2, tamper: from2(() => ({ status: 200, body: "" })),
    message: /answered 200 with an empty body instead of JSON\. Gave up after 2 attempts/ },
  { name: "200 with an HTML maintenance page", attempts: 2, tamper: from2(() => html(200, "<!DOCTYPE html><html><head><title>We'll be back soon</title></head><body>Maintenance</body></html>")),
    message: /answered 200 with an HTML page \("We'll be back soon"\) instead of JSON\. Gave up after 2 attempts/ },
  { name: "200 with an HTML page without a title, labelled application/json", attempts: 2, tamper: from2(() => html(200, "<html><body>upstream error</body></html>", "application/json")),
    message: /answered 200 with an HTML page instead of JSON/ },
  { name: "200 with JSON cut off half-way (complete HTTP body)", attempts: 2,
    tamper: from2((rows) => { const body = JSON.stringify({ success: true, data: rows }); return { status: 200, body: body.slice(0, body.length / 2) }; }),
    message: /answered 200 with \d+ bytes that are not valid JSON \(truncated or garbled\) instead of JSON/ },
  { name: "200 announcing gzip, body not compressed", attempts: 2, tamper: from2((rows) => ({ ...(ok(rows) as { status: number; body: string }), headers: { "content-encoding": "gzip" } })),
    message: /sent a gzip body that does not decompress \(truncated or garbled\)/ },
  { name: "204 No Content", attempts: 2, tamper: from2(() => ({ status: 204, body: "" })),
    message: /answered 204 with an empty body instead of JSON/ },
  { name: "200 with a JSON list at the top instead of the wrapper", attempts: 1, tamper: from2((rows) => wrapper(rows)),
    message: /answered 200 with JSON that is not the expected \{success, data\} wrapper\. Nothing was written/ },
  { name: "200 with JSON null", attempts: 1, tamper: from2(() => wrapper(null)), message: /JSON that is not the expected \{success, data\} wrapper/ },
  { name: "200 with a JSON string", attempts: 1, tamper: from2(() => wrapper("ok")), message: /JSON that is not the expected \{success, data\} wrapper/ },
  { name: "success:false with 200 (code 400 and messages)", attempts: 1,
    tamper: from2(() => wrapper({ success: false, message: "Bad Request", code: 400, data: ["page must be a number"] })),
    message: /The inbox API reported failure \(code 400\)\. The API said: Bad Request; page must be a number\. Nothing was written\./ },
  { name: "success:false with 200 (code 401: token revoked mid-run)", attempts: 1,
    tamper: from2(() => wrapper({ success: false, message: "Unauthorized", code: 401, data: ["Invalid or expired token"] })),
    message: /reported failure \(code 401\)\. The API said: Unauthorized; Invalid or expired token\. The API refused the token\. Check INBOX_API_TOKEN/ },
  { name: "success:false with 200 (code 503: passing, retried)", attempts: 2,
    tamper: from2(() => wrapper({ success: false, message: "Service Unavailable", code: 503, data: [] })),
    message: /reported failure \(code 503\)\. The API said: Service Unavailable\. Gave up after 2 attempts/ },
  { name: "success:false with 200, no code", attempts: 1, tamper: from2(() => wrapper({ success: false, message: "Something went wrong" })),
    message: /reported failure\. The API said: Something went wrong\. Nothing was written\./ },
  { name: "data missing", attempts: 1, tamper: from2(() => wrapper({ success: true, message: "ok", code: 200 })),
    message: /answered 200 with no data field, where a list of contacts was expected\. Nothing was written; the checkpoint is unchanged\./ },
  { name: "data: null", attempts: 1, tamper: from2(() => wrapper({ success: true, data: null })), message: /answered 200 with data: null, where a list of contacts was expected/ },
  { name: "data as an object", attempts: 1, tamper: from2((rows) => wrapper({ success: true, data: { users: rows } })), message: /answered 200 with data as object, where a list/ },
  { name: "data as a string", attempts: 1, tamper: from2(() => wrapper({ success: true, data: "[]" })), message: /answered 200 with data as string, where a list/ },
  { name: "data as a number", attempts: 1, tamper: from2(() => wrapper({ success: true, data: 20 })), message: /answered 200 with data as number, where a list/ },
  { name: "a contact that is a string", attempts: 1, tamper: from2((rows) => ok(withRow(rows, 1, () => "65a1f3c29b7e4d0012c8a417"))),
    message: /Contact #2 of the page is not an object\. Nothing of this page was written; the checkpoint is unchanged\./ },
  { name: "a contact that is null", attempts: 1, tamper: from2((rows) => ok(withRow(rows, 3, () => null))), message: /Contact #4 of the page is not an object/ },
  { name: "a contact without _id", attempts: 1, tamper: from2((rows) => ok(withRow(rows, 1, ({ _id, ...rest }) => rest))),
    message: /Contact #2 of the page has no _id\. Nothing of this page was written; the checkpoint is unchanged\./ },
  { name: "an _id that is a number", attempts: 1, tamper: from2((rows) => ok(withRow(rows, 0, (r) => ({ ...r, _id: 12345 })))),
    message: /Contact #1 of the page has an _id that is not a usable string \(number\)/ },
  { name: "an _id that is an empty string", attempts: 1, tamper: from2((rows) => ok(withRow(rows, 2, (r) => ({ ...r, _id: "" })))),
    message: /Contact #3 of the page has an _id that is not a usable string \(string\)/ },
  { name: "an _id that is an object ({$oid})", attempts: 1, tamper: from2((rows) => ok(withRow(rows, 2, (r) => ({ ...r, _id: { $oid: r._id } })))),
    message: /Contact #3 of the page has an _id that is not a usable string \(object\)/ },
  { name: "an _id of 500 characters", attempts: 1, tamper: from2((rows) => ok(withRow(rows, 2, (r) => ({ ...r, _id: "a".repeat(500) })))),
    message: /Contact #3 of the page has an _id that is not a usable string \(string\)/ },
  { name: "a lastSeenAt that does not parse", attempts: 1, tamper: from2((rows) => ok(withRow(rows, 4, (r) => ({ ...r, lastSeenAt: "yesterday" })))),
    message: /returned contact [0-9a-f]{24} with lastSeenAt "yesterday", which is not an ISO-8601 date with a time zone, so the sync cannot check that it is inside the requested window\. Nothing of this page was written; the checkpoint is unchanged/ },
  { name: "no createdAt that parses on a whole page", attempts: 1, tamper: from2((rows) => ok(rows.map((r) => ({ ...r, createdAt: "05/06/2024" })))),
    message: /None of the 20 contacts in a page has a createdAt that parses \(e\.g\. "05\/06\/2024"\), so the sync cannot tell where the page ends\. Nothing of this page was written/ },
  { name: "a lastSeenAt far in the future (year + 900)", attempts: 1, tamper: from2((rows) => ok(withRow(rows, 4, (r) => ({ ...r, lastSeenAt: later(String(r.lastSeenAt), 900) })))),
    message: /with lastSeenAt "29\d\d-.*", outside the requested window/ },
  { name: "a createdAt far in the future on a page that asked for older ones", attempts: 1, tamper: from2((rows) => ok(withRow(rows, 0, (r) => ({ ...r, createdAt: later(r.createdAt, 900) })))),
    message: /created 29\d\d-.*, outside the requested createdAt range \(open \.\. 20\d\d-.*\): it ignored the createdAt filter/ },
  { name: "contacts not newest-first", attempts: 1, tamper: from2((rows) => ok(swapFirstTwo(rows))),
    message: /did not return contacts newest-first by createdAt .* Nothing of this page was written; the checkpoint is unchanged\./ },
  { name: "contacts outside the requested window (filter ignored)", attempts: 1,
    tamper: from2((rows) => ok(rows.map((r) => ({ ...r, lastSeenAt: "1999-01-01T00:00:00.000Z" })))),
    message: /lastSeenAt "1999-01-01T00:00:00\.000Z", outside the requested window .*: it ignored the lastSeenAt filter/ },
  { name: `a body larger than the client's limit (${MAX_BODY / 1048576} MiB)`, attempts: 1,
    tamper: from2((rows) => ok(rows.map((r) => ({ ...r, padding: "x".repeat(MAX_BODY / 10) })))),
    message: /sent a page larger than 1 MiB; refusing to hold it in memory\. Nothing was written\./ },
  { name: "a gzip bomb (small on the wire, larger than the limit unpacked)", attempts: 1,
    tamper: from2(() => ({ status: 200, body: gzipSync(Buffer.from(JSON.stringify({ success: true, data: [], pad: "0".repeat(4 * MAX_BODY) }))), headers: { "content-encoding": "gzip" } })),
    message: /sent a page larger than 1 MiB; refusing to hold it in memory/ },
  { name: "a 302 redirect to another host (not followed: the token stays home)", attempts: 1,
    tamper: from2(() => ({ status: 302, body: "", headers: { location: `${redirectTarget.url}/inbox/users` } })),
    message: /refused the request with 302\. Retrying cannot help: check INBOX_API_URL/ },
];

interface Tolerance {
  name: string;
  tolerance: string;
  tamper: ReturnType<typeof from2>;
  /** Checks on what the run stored and logged; returns a line for the report. */
  check: (account: string, logs: string[]) => Promise<string>;
}

async function row(account: string, id: string): Promise<Record<string, any>> {
  const { rows } = await pool.query("SELECT * FROM contacts WHERE account = $1 AND id = $2", [account, id]);
  expect(rows).toHaveLength(1);
  return rows[0]!;
}

const picked = new Map<string, Row>();
/** Tamper with the second page's row `i`, remembering it for the check. */
function page2Row(key: string, i: number, patch: (r: Row) => Record<string, unknown>) {
  return from2((rows, n) => {
    if (n !== 2) return ok(rows);
    const out = withRow(rows, i, patch) as Row[];
    picked.set(key, out[i]!);
    return ok(out);
  });
}

const OFFSETS = ["+05:30", "-08:00", "+00:00", "+14:00"];
/** The same instant written with a zone offset: 2024-06-05T19:05:50.876Z -> 2024-06-06T00:35:50.876+05:30. */
function withOffset(iso: unknown, offset: string): unknown {
  if (typeof iso !== "string" || !iso.endsWith("Z")) return iso;
  const sign = offset[0] === "-" ? -1 : 1;
  const minutes = sign * (Number(offset.slice(1, 3)) * 60 + Number(offset.slice(4, 6)));
  const local = new Date(Date.parse(iso) + minutes * 60_000).toISOString().slice(0, -1);
  return `${local}${offset}`;
}

const TOLERATED: Tolerance[] = [
  {
    name: "the same _id twice in one page", tolerance: "the last copy is kept, logged as a warning",
    tamper: from2((rows, n) => {
      if (n !== 2) return ok(rows);
      const copy = { ...rows[3]!, status: "CLOSED", note: "second copy" };
      picked.set("dup", copy);
      return ok([...rows.slice(0, 4), copy, ...rows.slice(4)]);
    }),
    check: async (account, logs) => {
      const r = await row(account, picked.get("dup")!._id);
      expect(r.raw.note).toBe("second copy");
      expect(logs.some((l) => l.includes('"duplicates":1') && l.includes("a page repeated contact ids; the last copy of each was kept"))).toBe(true);
      return "stored the second copy; warned \"a page repeated contact ids; the last copy of each was kept\"";
    },
  },
  {
    name: "a createdAt that does not parse (one contact)", tolerance: "kept with created_at NULL, the original in raw, logged as a warning",
    tamper: page2Row("undated", 5, (r) => ({ ...r, createdAt: "2024-02-30T10:00:00Z" })),
    check: async (account, logs) => {
      const r = await row(account, picked.get("undated")!._id);
      expect(r.created_at).toBeNull();
      expect(r.raw.createdAt).toBe("2024-02-30T10:00:00Z");
      expect(logs.some((l) => l.includes("contacts with a createdAt that does not parse; kept, with created_at null"))).toBe(true);
      return "created_at NULL, raw keeps \"2024-02-30T10:00:00Z\"; warned";
    },
  },
  {
    name: "dates with +05:30, -08:00, +00:00 and +14:00 offsets (every page)", tolerance: "read as the same instants; raw keeps the text as sent",
    tamper: async (req, upstream) => {
      const rows = rowsOf(await upstream()).map((r: Row, i: number) => {
        const o = OFFSETS[i % OFFSETS.length]!;
        const lm = r.lastMessage as Record<string, unknown> | undefined;
        return { ...r, createdAt: withOffset(r.createdAt, o), lastSeenAt: withOffset(r.lastSeenAt, o), updatedAt: withOffset(r.updatedAt, o), ...(lm ? { lastMessage: { ...lm, at: withOffset(lm.at, o) } } : {}) };
      });
      if (req.n === 2) picked.set("offset", rows[0] as Row);
      return ok(rows);
    },
    check: async (account) => {
      // Complete: every contact seen is mirrored, each at the instant the double holds.
      const cmp = await compareMirror(pool, double, account, (c) => c.lastSeenAt != null);
      expect({ missing: cmp.missing.length, extra: cmp.extra.length }).toEqual({ missing: 0, extra: 0 });
      const { rows } = await pool.query("SELECT id, created_at, last_seen_at, updated_at, raw FROM contacts WHERE account = $1", [account]);
      for (const r of rows) {
        const c = double.store.get(r.id)!;
        expect([r.created_at.toISOString(), r.last_seen_at.toISOString(), r.updated_at.toISOString()]).toEqual([c.createdAt, c.lastSeenAt, c.updatedAt]);
      }
      const kept = rows.map((r) => String(r.raw.createdAt).slice(-6));
      for (const o of OFFSETS) expect(kept).toContain(o);
      return `${rows.length} contacts, every instant equal to the double's; raw keeps the text as sent (e.g. ${String(picked.get("offset")!.createdAt)})`;
    },
  },
  {
    name: "dates without a zone or not ISO-8601 (2024-06-05T19:05:50.876, 05/06/2024, 2024-02-30)", tolerance: "NULL in the column (never read in the server's time zone), raw keeps the text; as createdAt they never steer the seek",
    tamper: page2Row("zoneless", 2, (r) => ({ ...r, updatedAt: "2024-06-05T19:05:50.876", lastMessage: { by: "user", at: "05/06/2024" } })),
    check: async (account) => {
      const r = await row(account, picked.get("zoneless")!._id);
      expect({ updated_at: r.updated_at, last_message_at: r.last_message_at }).toEqual({ updated_at: null, last_message_at: null });
      expect(r.raw.updatedAt).toBe("2024-06-05T19:05:50.876");
      return "updated_at and last_message_at NULL; raw keeps the text";
    },
  },
  {
    name: "updatedAt far in the future (year 3000, and year 20000)", tolerance: "year 3000 stored; beyond 9999 NULL, raw keeps it",
    tamper: from2((rows, n) => {
      if (n !== 2) return ok(rows);
      const out = withRow(withRow(rows, 1, (r) => ({ ...r, updatedAt: "3000-01-01T00:00:00.000Z" })), 2, (r) => ({ ...r, updatedAt: "+020000-01-01T00:00:00.000Z" })) as Row[];
      picked.set("y3000", out[1]!);
      picked.set("y20000", out[2]!);
      return ok(out);
    }),
    check: async (account) => {
      expect((await row(account, picked.get("y3000")!._id)).updated_at.toISOString()).toBe("3000-01-01T00:00:00.000Z");
      const far = await row(account, picked.get("y20000")!._id);
      expect(far.updated_at).toBeNull();
      expect(far.raw.updatedAt).toBe("+020000-01-01T00:00:00.000Z");
      return "3000-01-01 stored; +020000 -> NULL, kept in raw";
    },
  },
  {
    name: "tags as a string", tolerance: "a list of one",
    tamper: page2Row("tags", 1, (r) => ({ ...r, profile: { ...(r.profile as object), userDetails: { ...((r.profile as any)?.userDetails ?? {}), tags: "vip" } } })),
    check: async (account) => {
      expect((await row(account, picked.get("tags")!._id)).tags).toEqual(["vip"]);
      return "tags = {vip}";
    },
  },
  {
    name: "profile: null", tolerance: "profile columns NULL / empty",
    tamper: page2Row("profile", 1, (r) => ({ ...r, profile: null })),
    check: async (account) => {
      const r = await row(account, picked.get("profile")!._id);
      expect({ name: r.name, email: r.email, phone: r.phone, tags: r.tags }).toEqual({ name: null, email: null, phone: null, tags: [] });
      expect(r.raw.profile).toBeNull();
      return "name, email, phone NULL; tags {}; raw.profile null";
    },
  },
  {
    name: "fields of unexpected types (status 3, platform an object, segments a string, email a list, websiteVisits \"12\")", tolerance: "text coerced, the rest NULL/empty",
    tamper: page2Row("types", 1, (r) => ({
      ...r, status: 3, platform: { WHATSAPP: true }, segments: "seg-1", websiteVisits: "12",
      profile: { ...(r.profile as object), userDetails: { ...((r.profile as any)?.userDetails ?? {}), contact: { email: ["a@example.com"] } } },
    })),
    check: async (account) => {
      const r = await row(account, picked.get("types")!._id);
      expect({ status: r.status, platforms: r.platforms, segments: r.segments, email: r.email, website_visits: r.website_visits })
        .toEqual({ status: "3", platforms: [], segments: ["seg-1"], email: null, website_visits: null });
      return "status '3', platforms {}, segments {seg-1}, email NULL, website_visits NULL";
    },
  },
  {
    name: "unknown extra fields, at the top and nested", tolerance: "kept in raw, no error, no warning",
    tamper: page2Row("extra", 1, (r) => ({
      ...r, brandNewField: { nested: [1, "x", null] }, "weird key \"quoted\"": true,
      profile: { ...(r.profile as object), loyalty: { tier: "gold" } },
    })),
    check: async (account, logs) => {
      const r = await row(account, picked.get("extra")!._id);
      expect(r.raw).toEqual(expectedRaw(picked.get("extra")));
      expect(logs.filter((l) => /"level":(40|50)/.test(l))).toEqual([]);
      return "raw equal to what was sent; no warning or error logged";
    },
  },
  {
    name: "NUL characters in a value and in a key", tolerance: "replaced by U+FFFD (PostgreSQL cannot store NUL)",
    tamper: page2Row("nul", 1, (r) => ({ ...r, note: "a\u0000b", ["k\u0000ey"]: "v", profile: { ...(r.profile as object), userDetails: { ...((r.profile as any)?.userDetails ?? {}), name: "Nul\u0000Name", userProvidedName: "Nul\u0000Name" } } })),
    check: async (account) => {
      const r = await row(account, picked.get("nul")!._id);
      expect(r.raw.note).toBe("a\uFFFDb");
      expect(r.raw["k\uFFFDey"]).toBe("v");
      expect(r.name).toBe("Nul\uFFFDName");
      return "raw.note 'a\\uFFFDb', key 'k\\uFFFDey', name 'Nul\\uFFFDName'";
    },
  },
  {
    name: "a one-off HTML page with 200", tolerance: "retried (logged at debug), then processed",
    tamper: async (req) => (req.n === 2 ? html(200, "<html><head><title>Just a moment...</title></head></html>") : undefined),
    check: async (_account, logs) => {
      expect(logs.some((l) => l.includes("retrying inbox request") && l.includes("Just a moment"))).toBe(true);
      return "one retry, logged at debug with the page's title";
    },
  },
  {
    name: "JSON labelled text/html", tolerance: "read as JSON",
    tamper: async (req, upstream) => (req.n === 2 ? html(200, (await upstream()).body) : undefined),
    check: async () => "processed",
  },
  {
    name: "429 with Retry-After as an HTTP date", tolerance: "waited (capped), retried, processed",
    tamper: async (req) => (req.n === 2 ? { status: 429, body: "", headers: { "retry-after": new Date(Date.now() + 1000).toUTCString() } } : undefined),
    check: async (_account, logs) => {
      expect(logs.some((l) => l.includes("retrying inbox request") && l.includes('"status":429'))).toBe(true);
      return "one retry after the server's wait";
    },
  },
  {
    name: "one page larger than the API's usual page (60 rows where pages hold 20)", tolerance: "processed; later passes with normal pages still read everything",
    tamper: async (req) => (req.n === 2 ? ok(double.store.query((req as ProxyRequest).body, 60).rows) : undefined),
    check: (account) => laterPassesComplete(account),
  },
  {
    name: "a huge page: the whole window in one answer", tolerance: "processed in one transaction; later passes with normal pages still read everything",
    tamper: async (req) => (req.n === 1 ? ok(double.store.query((req as ProxyRequest).body, 10_000).rows) : undefined),
    check: async (account) => {
      const { rows } = await pool.query<{ pages: number; received: number }>("SELECT pages, received FROM sync_runs WHERE account = $1 ORDER BY id LIMIT 1", [account]);
      expect(rows[0]!.received).toBeGreaterThan(100);
      return `${rows[0]!.received} contacts received in ${rows[0]!.pages} page(s); ${await laterPassesComplete(account)}`;
    },
  },
];

/**
 * After a page larger than the API's page size: new contacts arrive (more than a page of them) and the next
 * incremental pass must read all of them with normal pages (a page-size estimate taken from the large page
 * would make the first normal page look like the last one).
 */
async function laterPassesComplete(account: string): Promise<string> {
  const created = double.store.create(45).map((c) => c._id);
  const next = context(account);
  const summary = await runIncremental(next.ctx);
  await next.client.close();
  expect(summary.status).toBe("succeeded");
  const mirrored = await mirrorRows(pool, account);
  expect(created.filter((id) => !mirrored.has(id))).toEqual([]);
  return `45 contacts created afterwards all mirrored by the next sync (${summary.requests} requests of normal pages)`;
}

function context(account: string, logger = capturingLogger("debug")): { ctx: SyncContext; client: InboxClient; lines: string[] } {
  const client = new InboxClient({
    baseUrl: new URL(proxy.url), token: TOKEN, filters: {}, timeoutMs: 3000, retries: 1, logger: logger.logger,
    minBackoffMs: 1, maxBackoffMs: 5, maxRetryAfterMs: 20, maxBodyBytes: MAX_BODY,
  });
  return {
    client,
    lines: logger.lines,
    ctx: { db, client, logger: logger.logger, config: { account, startAt: START_AT, lookbackMs: 0, lagMs: 0, concurrency: 1 }, strategy: guessedStrategy() },
  };
}

const visible = (c: Record<string, unknown>) => c.lastSeenAt != null;

describe(`bad input: ${ERRORS.length} answers that stop the run with a clear message`, () => {
  for (const c of ERRORS) {
    it(`${c.name} -> ${c.message.source.replaceAll("\\", "").slice(0, 110)}`, async ({ task }) => {
      const account = `bad-${++caseNumber}`;
      proxy.reset();
      proxy.tamper = c.tamper;
      const { ctx, client } = context(account);
      const error = (await runIncremental(ctx).then(() => undefined, (e: unknown) => e)) as Error | undefined;
      proxy.tamper = undefined;
      await client.close();
      expect(error, "the run was to fail").toBeInstanceOf(Error);
      expect(error!.message).toMatch(c.message);
      // Request 1 once, then the bad request as often as retrying allows; nothing more (the pass stopped).
      expect(proxy.requests.length).toBeLessThanOrEqual(1 + c.attempts + 1);
      const badBody = JSON.stringify(proxy.requests[1]);
      expect(proxy.requests.filter((b) => JSON.stringify(b) === badBody)).toHaveLength(c.attempts);
      if (c.name.includes("redirect")) expect(redirectTarget.requests).toHaveLength(0);

      // Nothing half-written: exactly the first page is mirrored, and the checkpoint covers exactly it.
      const first = double.store.query(proxy.requests[0], PAGE).rows;
      const mirrored = await mirrorRows(pool, account);
      expect([...mirrored.keys()].sort()).toEqual(first.map((r) => r._id).sort());
      for (const r of first) expect(mirrored.get(r._id)!.raw).toEqual(expectedRaw(JSON.parse(JSON.stringify(r))));
      const cp = (await readCheckpoints(pool, account)).incremental!;
      expect(cp.syncedUntil).toBeNull();
      // The stored cursor is the oldest createdAt committed; the resumed request covers it again (endsAt 1 ms above).
      expect(cp.cursor!.getTime()).toBe(Math.min(...first.map((r) => Date.parse(r.createdAt))));
      const run = (await pool.query("SELECT status, error FROM sync_runs WHERE account = $1", [account])).rows;
      expect(run).toEqual([{ status: "failed", error: expect.stringMatching(c.message) }]);

      // The next good answers are processed normally: the run resumes at the cursor and completes.
      proxy.reset();
      const next = context(account);
      const summary = await runIncremental(next.ctx);
      await next.client.close();
      expect(summary.status).toBe("succeeded");
      expect(JSON.parse(JSON.stringify(proxy.requests[0]!.createdAt))).toEqual({ startAt: "", endsAt: new Date(cp.cursor!.getTime() + 1).toISOString() });
      expect(exactness(await compareMirror(pool, double, account, visible))).toEqual(EXACT);
      observe(task, `${error!.message.split(". ").slice(0, 2).join(". ").slice(0, 220)} | first page kept (${first.length} contacts), checkpoint at it; next run resumed and completed`);
    });
  }
});

describe(`bad input: ${TOLERATED.length} answers with a documented tolerance`, () => {
  for (const c of TOLERATED) {
    it(`${c.name} -> ${c.tolerance}`, async ({ task }) => {
      const account = `odd-${++caseNumber}`;
      proxy.reset();
      proxy.tamper = c.tamper;
      const { ctx, client, lines } = context(account);
      const summary = await runIncremental(ctx);
      proxy.tamper = undefined;
      await client.close();
      expect(summary.status).toBe("succeeded");
      const detail = await c.check(account, lines);

      // Later passes with good answers: an incremental pass and a reconcile make the mirror exact.
      for (const pass of [runIncremental, runReconcile]) {
        const next = context(account);
        const s = await pass(next.ctx);
        await next.client.close();
        expect(s.status).toBe("succeeded");
      }
      expect(exactness(await compareMirror(pool, double, account))).toEqual(EXACT);
      observe(task, `${detail}; afterwards a sync and a reconcile with good answers: mirror exact`);
    });
  }
});
