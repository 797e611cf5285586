// One strict reader of instants for the whole program: the API's stamps, SYNC_START_AT, backfill's
// --from/--to. JavaScript's own Date parser is lenient in ways that lose data quietly: it rolls "2024-02-30"
// over to 1 March, reads "05/06/2024" in the server's locale and zone-less times in the server's time zone.
// Here an instant is ISO-8601 with a zone ("2024-06-05T19:05:50.876Z", "+05:30"), a bare date (midnight
// UTC), or (from the API only) epoch milliseconds; anything else is not an instant.

const ISO_INSTANT = /^([0-9]{4})-([0-9]{2})-([0-9]{2})(?:T([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,9}))?)?(?:Z|([+-])([0-9]{2}):([0-9]{2})))?$/;
/** 9999-12-31T23:59:59.999Z: later instants have no 4-digit-year ISO form. */
export const MAX_INSTANT_MS = 253_402_300_799_999;

const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysInMonth(year: number, month: number): number {
  return month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : DAYS[month - 1]!;
}

/** The canonical form (what toISOString writes and the API sends): read without the general pattern. */
const CANONICAL = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** Two or four ASCII digits at `at` as a number (the caller has checked they are digits). */
function digits(text: string, at: number, length: 2 | 3 | 4): number {
  let n = 0;
  for (let i = at; i < at + length; i += 1) n = n * 10 + (text.charCodeAt(i) - 48);
  return n;
}

/** A canonical stamp's milliseconds, or null when a field is out of range (then it is no instant at all). */
function parseCanonical(value: string): number | null {
  const year = digits(value, 0, 4);
  const month = digits(value, 5, 2);
  const day = digits(value, 8, 2);
  const hour = digits(value, 11, 2);
  const minute = digits(value, 14, 2);
  const second = digits(value, 17, 2);
  if (year < 1970 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  if (hour > 23 || minute > 59 || second > 59) return null;
  return Date.UTC(year, month - 1, day, hour, minute, second, digits(value, 20, 3));
}

/** Milliseconds since the epoch, or null when `value` is not an instant as described above. */
export function parseInstant(value: unknown): number | null {
  let ms: number;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) return null;
    ms = Math.trunc(value);
  } else if (typeof value === "string") {
    if (value.length === 24 && CANONICAL.test(value)) return parseCanonical(value);
    const m = ISO_INSTANT.exec(value);
    if (!m) return null;
    const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map((p) => Number(p ?? 0)) as [number, number, number, number, number, number];
    // Before 1970 is out of range anyway, and Date.UTC would read years below 100 as 19xx.
    if (year < 1970 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
    if (hour > 23 || minute > 59 || second > 59) return null;
    const millis = Number((m[7] ?? "").padEnd(3, "0").slice(0, 3));
    let offsetMinutes = 0;
    if (m[8]) {
      const oh = Number(m[9]);
      const om = Number(m[10]);
      if (oh > 23 || om > 59) return null;
      offsetMinutes = (m[8] === "-" ? -1 : 1) * (oh * 60 + om);
    }
    ms = Date.UTC(year, month - 1, day, hour, minute, second, millis) - offsetMinutes * 60_000;
  } else {
    return null;
  }
  if (ms < 0 || ms > MAX_INSTANT_MS) return null;
  return ms;
}

/** The same, as the canonical ISO string (what the mirror's columns store), or null. */
export function instant(value: unknown): string | null {
  // A stamp already in the canonical form is its own answer: no Date, no new string.
  if (typeof value === "string" && value.length === 24 && CANONICAL.test(value)) return parseCanonical(value) === null ? null : value;
  const ms = parseInstant(value);
  return ms === null ? null : new Date(ms).toISOString();
}

/** A user-given instant (settings, command-line flags): strings only, no epoch numbers. */
export function parseUserInstant(text: string): Date | null {
  const ms = parseInstant(text.trim());
  return ms === null ? null : new Date(ms);
}
