// Phones from 40 countries, mobile and fixed line, in the forms people type them, checked against what
// libphonenumber-js itself says about the number in international form (src/records/phone.ts).
import { getCountryCallingCode, parsePhoneNumberFromString, type CountryCode } from "libphonenumber-js/max";
import examples from "libphonenumber-js/mobile/examples";
import { describe, expect, it } from "vitest";
import { callingCode, parsePhone, regionOf } from "../../src/records/phone.js";
import { phoneColumns } from "../../src/records/mapContact.js";

// Fixed-line national significant numbers (Google's libphonenumber example numbers); mobiles come from the
// examples file that libphonenumber-js ships.
const FIXED: Partial<Record<CountryCode, string>> = {
  AR: "1123456789", AU: "212345678", BR: "1123456789", CN: "1012345678", DE: "30123456", EG: "234567890",
  ES: "810123456", FR: "123456789", GB: "1212345678", ID: "218350123", IT: "0212345678", JP: "312345678",
  KE: "202012345", KR: "22123456", NL: "101234567", PK: "2123456789", RU: "3011234567", SA: "112345678",
  TR: "2123456789", VN: "2101234567", ZA: "101234567", PL: "123456789", SE: "8123456", TH: "21234567",
  MY: "323856789", SG: "61234567", AE: "22345678", BD: "27111234", CO: "6012345678", NZ: "32345678",
  IE: "2212345", GH: "302345678", MA: "520123456", MX: "2001234567",
};
const MOBILE_ONLY: CountryCode[] = ["NG", "PH", "UA", "IN", "US", "CA", "CL", "ET", "TZ", "UG"];
const COUNTRIES = [...Object.keys(FIXED), ...MOBILE_ONLY] as CountryCode[];
const NAMES = new Intl.DisplayNames(["en"], { type: "region" });

interface Case { country: CountryCode; kind: "mobile" | "fixed"; nsn: string }
const cases: Case[] = COUNTRIES.flatMap((country) => [
  { country, kind: "mobile" as const, nsn: examples[country] },
  ...(FIXED[country] ? [{ country, kind: "fixed" as const, nsn: FIXED[country]! }] : []),
]);

/** What libphonenumber-js says about the number written internationally: the expected columns. */
function truth(c: Case) {
  const cc = getCountryCallingCode(c.country);
  const parsed = parsePhoneNumberFromString(`+${cc}${c.nsn}`)!;
  expect(parsed.isValid()).toBe(true);
  return { phone_e164: `+${cc}${c.nsn}`, phone_country: parsed.country!, phone_type: parsed.getType()!.toLowerCase() };
}

describe("phones with libphonenumber-js", () => {
  it("covers at least 30 countries, mobile and fixed line", () => {
    expect(new Set(cases.map((c) => c.country)).size).toBeGreaterThanOrEqual(30);
    expect(cases.filter((c) => c.kind === "fixed").length).toBeGreaterThanOrEqual(30);
    for (const c of cases) {
      const type = truth(c).phone_type;
      expect([c.kind === "mobile" ? "mobile" : "fixed_line", "fixed_line_or_mobile"]).toContain(type);
    }
  });

  it.each(cases.map((c) => [c.country, c.kind, c] as const))("%s %s: every form that says its country", (_country, _kind, c) => {
    const cc = getCountryCallingCode(c.country);
    const expected = truth(c);
    const national = parsePhoneNumberFromString(`+${cc}${c.nsn}`)!.formatNational(); // as written at home: trunk 0, spaces
    const forms: [prefix: string | null, number: string, context: { country?: string; defaultRegion?: string }][] = [
      [cc, national, {}],
      [`+${cc}`, c.nsn, {}],
      [`00${cc}`, c.nsn.replace(/(\d{3})/, "$1 "), {}],
      [` (+${cc}) `, national.replace(/ /g, "-"), {}],
      [null, `+${cc} ${c.nsn}`, {}],
      [null, `00${cc}${c.nsn}`, { country: "Atlantis" }],
      [null, national, { country: NAMES.of(c.country)! }],
      [null, national, { country: c.country.toLowerCase() }],
      [null, national, { defaultRegion: c.country }],
      [null, national, { country: "nowhere", defaultRegion: c.country }],
    ];
    for (const [prefix, number, context] of forms) {
      expect({ prefix, number, context, ...parsePhone(prefix, number, context) }).toEqual({ prefix, number, context, ...expected });
    }
  });

  it.each(cases.map((c) => [c.country, c.kind, c] as const))("%s %s: forms that do not say it, and junk, give null like libphonenumber-js", (_country, _kind, c) => {
    const cc = getCountryCallingCode(c.country);
    const none = { phone_e164: null, phone_country: null, phone_type: null };
    const national = parsePhoneNumberFromString(`+${cc}${c.nsn}`)!.formatNational();
    // No prefix, no country, no default region: a national number could be anywhere.
    expect(parsePhone(null, national, {})).toEqual(none);
    // A prefix that is not a calling code is not guessed around.
    expect(parsePhone("IN", c.nsn, { country: c.country })).toEqual(none);
    expect(parsePhone(cc, "not a number", {})).toEqual(none);
    expect(parsePhone(cc, null, {})).toEqual(none);
    // Cut short or made too long: null exactly when libphonenumber-js says invalid.
    for (const digits of [c.nsn.slice(0, -3), `${c.nsn}12345`]) {
      const lib = parsePhoneNumberFromString(digits, { defaultCallingCode: cc });
      const got = parsePhone(cc, digits, {});
      expect(got.phone_e164).toBe(lib?.isValid() ? lib.number : null);
    }
  });

  it("relies on isValid() being getType() !== undefined with the full metadata (phone.ts asks only for the type)", () => {
    let checked = 0;
    for (const [country, nsn] of Object.entries(examples) as [CountryCode, string][]) {
      const cc = getCountryCallingCode(country);
      for (const digits of [nsn, nsn.slice(0, -2), `${nsn}9`, `${nsn.slice(0, -1)}0`, `0${nsn}`]) {
        const parsed = parsePhoneNumberFromString(digits, { defaultCallingCode: cc });
        if (!parsed) continue;
        expect({ country, digits, valid: parsed.isValid() }).toEqual({ country, digits, valid: parsed.getType() !== undefined });
        expect(parsePhone(cc, digits).phone_e164).toBe(parsed.isValid() ? parsed.number : null);
        checked += 1;
      }
    }
    expect(checked).toBeGreaterThan(800);
  });

  it("reads prefixes and countries as people send them", () => {
    expect([callingCode("+91"), callingCode("0044"), callingCode(" (1) "), callingCode("91-"), callingCode("IN"), callingCode("0"), callingCode("12345"), callingCode(null)])
      .toEqual(["91", "44", "1", "91", null, null, null, null]);
    expect([regionOf("Kenya"), regionOf("ke"), regionOf("Türkiye"), regionOf("Viet Nam"), regionOf("United Kingdom"), regionOf("USA"), regionOf("Atlantis"), regionOf(""), regionOf(null)])
      .toEqual(["KE", "KE", "TR", "VN", "GB", "US", null, null, null]);
  });

  it("keeps what was sent next to the normalised form", () => {
    expect(phoneColumns({ number: "098765 43210", prefix: "91" })).toEqual({
      phone: "+919876543210", phone_raw: "098765 43210", phone_prefix: "91", phone_e164: "+919876543210", phone_country: "IN", phone_type: "mobile",
    });
    // Kenya and Nigeria: null under the old table of 25 calling codes (Kenya was not in it).
    expect(phoneColumns({ number: "0712 123456", prefix: "254" }).phone_e164).toBe("+254712123456");
    expect(phoneColumns("0712 123456", { country: "Kenya" }).phone_e164).toBe("+254712123456");
    expect(phoneColumns("0802 123 4567", { defaultRegion: "NG" })).toMatchObject({ phone: "+2348021234567", phone_country: "NG", phone_type: "mobile" });
    // Not valid: `phone` is the number as sent, with its prefix.
    expect(phoneColumns({ number: "12345", prefix: "+44" })).toEqual({
      phone: "+44 12345", phone_raw: "12345", phone_prefix: "+44", phone_e164: null, phone_country: null, phone_type: null,
    });
    expect(phoneColumns(9876543210).phone).toBe("9876543210");
    expect(phoneColumns({ prefix: "91" }).phone).toBeNull();
    expect(phoneColumns([{ number: "9876543210", prefix: "91" }]).phone_raw).toBeNull();
    // Non-geographic numbers are valid without a region.
    expect(phoneColumns("+800 1234 5678")).toMatchObject({ phone_e164: "+80012345678", phone_country: null, phone_type: "toll_free" });
  });
});
