// One strict reader of instants for the whole program: the API's stamps, SYNC_START_AT, backfill's
// --from/--to. JavaScript's own Date parser is lenient in ways that lose data quietly: it rolls "2024-02-30"
// over to 1 March, reads "05/06/2024" in the server's locale and zone-less times in the server's time zone.
// Here an instant is ISO-8601 with a zone ("2024-06-05T19:05:50.876Z", "+05:30"), a bare date (midnight
// UTC), or (from the API only) epoch milliseconds; anything else is not an instant.

const ISO_INSTANT = /^([0-9]{4})-([0-9]{2})-([0-9]{2})(?:T([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,9}))?)?(?:Z|([+-])([0-9]{2}):([0-9]{2})))?$/;
/** 9999-12-31T23:59:59.999Z: later instants have no 4-digit-year ISO form. */
export const MAX_INSTANT_MS = 253_402_300_799_999;

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** Milliseconds since the epoch, or null when `value` is not an instant as described above. */
export function parseInstant(value: unknown): number | null {
  let ms: number;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) return null;
    ms = Math.trunc(value);
  } else if (typeof value === "string") {
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
  const ms = parseInstant(value);
  return ms === null ? null : new Date(ms).toISOString();
}

/** A user-given instant (settings, command-line flags): strings only, no epoch numbers. */
export function parseUserInstant(text: string): Date | null {
  const ms = parseInstant(text.trim());
  return ms === null ? null : new Date(ms);
}
