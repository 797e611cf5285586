// Durations in settings: a whole number and a unit, e.g. "30s", "10m", "2h", "1d", "500ms", or "0".
const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PATTERN = /^(\d+)(ms|s|m|h|d)$/;

/** Milliseconds for a duration string, or undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  const value = text.trim();
  if (value === "0") return 0;
  const match = PATTERN.exec(value);
  if (!match) return undefined;
  return Number(match[1]) * UNITS[match[2]!]!;
}

export function formatDuration(ms: number): string {
  for (const [unit, size] of [["d", 86_400_000], ["h", 3_600_000], ["m", 60_000], ["s", 1000]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
