// Small pure pieces an operator meets: "did you mean", settings that look like ours but are not, and the
// scrubber that keeps secrets out of logs without blanking ordinary words.
import { describe, expect, it } from "vitest";
import { nearest } from "../../src/suggest.js";
import { CONFIG_VARIABLES, unknownSettings } from "../../src/config.js";
import { registerSecret, scrub } from "../../src/log.js";
import { Progress } from "../../src/progress.js";
import { quietLogger } from "../helpers/logs.js";

describe("nearest", () => {
  it("finds slips and refuses far-fetched guesses", () => {
    const commands = ["sync", "reconcile", "backfill", "status", "demo", "worker", "migrate", "db", "grant-reader", "api-double"];
    expect(nearest("synk", commands)).toBe("sync");
    expect(nearest("recon", commands)).toBe("reconcile");
    expect(nearest("stauts", commands)).toBe("status");
    expect(nearest("grant", commands)).toBe("grant-reader");
    expect(nearest("deploy", commands)).toBeUndefined();
    expect(nearest("x", commands)).toBeUndefined();
  });
});

describe("unknownSettings", () => {
  it("names variables with our prefixes that are not settings, with the nearest one", () => {
    expect(unknownSettings({ INBOX_API_TOKN: "x", SYNC_LOOKBAK: "5m", PATH: "/bin", SYNC_ACCOUNT: "a" })).toEqual([
      "INBOX_API_TOKN is not a setting of contacts-sync and is ignored; did you mean INBOX_API_TOKEN?",
      "SYNC_LOOKBAK is not a setting of contacts-sync and is ignored; did you mean SYNC_LOOKBACK?",
    ]);
    expect(unknownSettings({ SYNC_WHATEVER_ELSE_ENTIRELY: "1" })).toEqual(["SYNC_WHATEVER_ELSE_ENTIRELY is not a setting of contacts-sync and is ignored"]);
  });

  it("knows every setting of the schema, so settings added later are never flagged", () => {
    expect(unknownSettings(Object.fromEntries(CONFIG_VARIABLES.map((n) => [n, "x"])))).toEqual([]);
    expect(unknownSettings({ SYNC_NEW_THING: "1" }, [...CONFIG_VARIABLES, "SYNC_NEW_THING"])).toEqual([]);
  });
});

describe("scrub", () => {
  it("masks URL passwords and the token, and leaves words that happen to equal a password alone", () => {
    registerSecret("tok-3d9f2a7b41c0");
    const line = JSON.stringify({ service: "contacts-sync", url: "postgresql://postgres:contacts-sync@127.0.0.1:5432/contacts", msg: "sent tok-3d9f2a7b41c0" });
    const out = scrub(line);
    expect(out).toContain('"service":"contacts-sync"');
    expect(out).toContain("postgresql://postgres:[REDACTED]@127.0.0.1:5432/contacts");
    expect(out).toContain("sent [REDACTED]");
    expect(scrub("postgresql://user:****@host/db")).toBe("postgresql://user:****@host/db");
    expect(scrub("see https://example.com/a:b@c")).toBe("see https://example.com/a:b@c");
  });
});

describe("Progress", () => {
  it("reports the figures of the last committed page and the HTTP totals since it started", () => {
    const http = { requests: 10, retries: 1, throttled: 0 };
    const progress = new Progress({ http, logger: quietLogger(), intervalMs: 1000, concurrency: 4, expected: 200 });
    http.requests = 15;
    http.throttled = 2;
    progress.onPage("reconcile", { requests: 0, retries: 0, pages: 5, received: 100, inserted: 3, updated: 4, unchanged: 93, deleted: 0, restored: 0 });
    expect(progress.figures()).toMatchObject({ kind: "reconcile", received: 100, written: 7, pages: 5, requests: 5, retries: 0, throttled: 2, concurrency: 4, percent: 50 });
    expect(progress.text()).toMatch(/^~50% received 100, written 7, pages 5; .*concurrency 4\/4; retries 0, 429s 2$/);
    // The engine halved the lanes on a 429: the line shows the lanes allowed now, against the setting.
    progress.onConcurrency(2);
    expect(progress.figures().concurrency).toBe(2);
    expect(progress.text()).toMatch(/concurrency 2\/4;/);
  });
});
