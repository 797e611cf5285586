// Phones: from what the inbox API sends ({number, prefix} as people typed them) to E.164, the country the
// number belongs to, and its type, by libphonenumber-js (Google's libphonenumber metadata, every country).
//
// Which country a national number is read in, first that applies:
//   1. the prefix sent with it ("91", "+44", "0044"): a calling code;
//   2. the contact's country (an ISO 3166 code such as "KE", or its English name, "Kenya");
//   3. the account's default region, DEFAULT_PHONE_REGION (unset: no third chance).
// Only the first of these that is present is used: a number that is not valid with its own prefix is not
// tried again with another country (that would be a guess). A number written in international form ("+254…",
// "00254…") carries its own calling code and is read as written. `phone_e164` is filled only when
// libphonenumber-js says the number is valid; otherwise the three columns are null and `phone` keeps the
// number as sent.
import { getCountries, parsePhoneNumberFromString, type CountryCode } from "libphonenumber-js/max";

export interface PhoneColumns {
  /** E.164 when known, else the number as sent with its prefix ("+91 98765-43210"). */
  phone: string | null;
  phone_raw: string | null;
  phone_prefix: string | null;
  phone_e164: string | null;
  /** ISO 3166-1 alpha-2 region of a valid number ("IN"); null for non-geographic numbers (+800…). */
  phone_country: string | null;
  /** libphonenumber's type, lower-case: mobile, fixed_line, fixed_line_or_mobile, toll_free, voip… */
  phone_type: string | null;
}

export interface PhoneContext {
  /** The contact's country as the API sends it (code or English name), if any. */
  country?: string | null;
  /** DEFAULT_PHONE_REGION: an ISO 3166-1 alpha-2 code. */
  defaultRegion?: string | null;
}

const REGIONS = new Set<string>(getCountries());

// English region names (and a few common variants) to codes, built from the runtime's ICU data once.
const REGION_BY_NAME: ReadonlyMap<string, CountryCode> = (() => {
  const names = new Intl.DisplayNames(["en"], { type: "region" });
  const out = new Map<string, CountryCode>();
  for (const code of getCountries()) {
    const name = names.of(code);
    if (name) out.set(normalName(name), code);
  }
  const aliases: Record<string, CountryCode> = {
    usa: "US", "united states of america": "US", uk: "GB", "great britain": "GB", england: "GB", uae: "AE",
    russia: "RU", "south korea": "KR", korea: "KR", vietnam: "VN", "viet nam": "VN", turkey: "TR", "turkiye": "TR",
    "czech republic": "CZ", "ivory coast": "CI", "hong kong": "HK",
  };
  for (const [name, code] of Object.entries(aliases)) out.set(name, code);
  return out;
})();

function normalName(name: string): string {
  return name.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase().replace(/[^a-z]+/g, " ").trim();
}

/** An ISO region code for a country as sent ("ke", "KE", "Kenya", "Türkiye"), or null when unknown. */
export function regionOf(country: string | null | undefined): CountryCode | null {
  if (!country) return null;
  const trimmed = country.trim();
  if (/^[A-Za-z]{2}$/.test(trimmed) && REGIONS.has(trimmed.toUpperCase())) return trimmed.toUpperCase() as CountryCode;
  return REGION_BY_NAME.get(normalName(trimmed)) ?? null;
}

/** A calling code from a prefix as typed ("+91", "0044", "(1)"), or null when it is not one. */
export function callingCode(prefix: string | null): string | null {
  if (prefix === null) return null;
  let digits = prefix.replace(/[\s()+-]/g, "");
  if (digits.startsWith("00")) digits = digits.slice(2);
  return /^[1-9][0-9]{0,2}$/.test(digits) ? digits : null;
}

const NONE = { phone_e164: null, phone_country: null, phone_type: null } as const;

/** E.164, region and type of a number, read as described at the top of this file. */
export function parsePhone(prefix: string | null, number: string | null, context: PhoneContext = {}): Pick<PhoneColumns, "phone_e164" | "phone_country" | "phone_type"> {
  if (number === null) return NONE;
  const code = callingCode(prefix);
  let options: { defaultCallingCode?: string; defaultCountry?: CountryCode } | undefined;
  if (code !== null) options = { defaultCallingCode: code };
  else if (prefix !== null && prefix.trim() !== "") return NONE; // a prefix that is no calling code: no guess
  else {
    const region = regionOf(context.country) ?? regionOf(context.defaultRegion);
    options = region ? { defaultCountry: region } : {};
  }
  // Numbers longer than any real one are junk; the cap also bounds the parser's work.
  if (number.length > 64) return NONE;
  // "00" is the international call prefix nearly everywhere; without a region libphonenumber-js cannot know it.
  const written = number.replace(/^[\s(]*00(?=[\s(]*[1-9])/, "+");
  const parsed = parsePhoneNumberFromString(written, options);
  // With the full metadata ("max", which has every number type), libphonenumber-js's isValid() is exactly
  // getType() !== undefined: asking for the type alone answers both and halves the pattern matching, the
  // mapping's largest cost (test/unit/phone.test.ts checks the equivalence on every number it reads).
  const type = parsed?.getType();
  if (parsed === undefined || type === undefined) return NONE;
  return {
    phone_e164: parsed.number,
    phone_country: parsed.country ?? null,
    phone_type: type.toLowerCase(),
  };
}
