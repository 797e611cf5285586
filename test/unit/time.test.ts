// The one strict time parser: what JavaScript's Date would quietly misread is refused.
import { describe, expect, it } from "vitest";
import { instant, parseInstant, parseUserInstant } from "../../src/time.js";
import { loadConfig } from "../../src/config.js";

describe("parseInstant", () => {
  it.each([
    ["2024-06-05T19:05:50.876Z", "2024-06-05T19:05:50.876Z"],
    ["2024-06-05T19:05:50Z", "2024-06-05T19:05:50.000Z"],
    ["2024-06-05T19:05Z", "2024-06-05T19:05:00.000Z"],
    ["2024-06-05T19:05:50.876+05:30", "2024-06-05T13:35:50.876Z"],
    ["2024-06-05T19:05:50.876123456Z", "2024-06-05T19:05:50.876Z"],
    ["2024-02-29", "2024-02-29T00:00:00.000Z"],
    [1717614350876, "2024-06-05T19:05:50.876Z"],
  ])("reads %j", (value, expected) => {
    expect(instant(value)).toBe(expected);
  });

  it.each([
    "2024-02-30", // Date rolls it over to 1 March
    "2023-02-29",
    "2024-13-01",
    "05/06/2024", // locale-dependent in Date
    "2024-06-05T19:05:50", // no zone: Date reads it in the server's time zone
    "2024-06-05 19:05:50Z",
    "2024-06-05T24:00:00Z",
    "1969-12-31T23:59:59Z",
    "last tuesday",
    "",
    null,
    {},
    Number.NaN,
  ])("refuses %j", (value) => {
    expect(parseInstant(value)).toBeNull();
  });

  it.each(["2023-02-29T00:00:00.000Z", "2024-04-31T10:00:00.000Z", "2024-06-05T24:00:00.000Z", "2024-06-05T23:60:00.000Z", "1969-12-31T23:59:59.999Z", "2024-00-10T00:00:00.000Z"])(
    "refuses %j in the canonical form too",
    (value) => {
      expect(parseInstant(value)).toBeNull();
      expect(instant(value)).toBeNull();
    },
  );

  it("reads the canonical form (its fast path) exactly as Date does where Date is right, and refuses what Date rolls over", () => {
    let seed = 7;
    const next = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const two = (n: number) => String(n).padStart(2, "0");
    for (let i = 0; i < 20_000; i += 1) {
      // Random fields, some out of range (month 13, day 31 of a short month, hour 24): every shape the fast path sees.
      const text = `${1960 + next(90)}-${two(next(14))}-${two(next(33))}T${two(next(25))}:${two(next(61))}:${two(next(61))}.${String(next(1000)).padStart(3, "0")}Z`;
      const ms = Date.parse(text);
      const valid = !Number.isNaN(ms) && ms >= 0 && new Date(ms).toISOString() === text;
      expect({ text, ms: parseInstant(text) }).toEqual({ text, ms: valid ? ms : null });
      expect(instant(text)).toBe(valid ? text : null);
    }
  });

  it("takes no epoch numbers from users, and trims", () => {
    expect(parseUserInstant(" 2024-01-01 ")?.toISOString()).toBe("2024-01-01T00:00:00.000Z");
    expect(parseUserInstant("1717614350876")).toBeNull();
  });

  it("is what SYNC_START_AT goes through: 2024-02-30 is refused, not read as 1 March", () => {
    expect(() => loadConfig({ SYNC_START_AT: "2024-02-30" }, { needToken: false })).toThrow(/SYNC_START_AT: expected an ISO-8601 date/);
    expect(loadConfig({ SYNC_START_AT: "2024-02-29" }, { needToken: false }).startAt.toISOString()).toBe("2024-02-29T00:00:00.000Z");
  });
});
