// "Did you mean": the nearest known name to a misspelt one, for commands, options and settings alike.

/** Edit distance (insertions, deletions, substitutions, and swaps of two neighbours). */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i += 1) {
    for (let j = 1; j <= b.length; j += 1) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The known name closest to `word`, if it is close enough to be a slip (about a third of its letters
 * wrong at most, or one is a prefix of the other); undefined otherwise, rather than a far-fetched guess.
 */
export function nearest(word: string, known: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  let best: { name: string; d: number } | undefined;
  for (const name of known) {
    const n = name.toLowerCase();
    const d = n.startsWith(w) && w.length >= 3 ? 1 : distance(w, n);
    if (!best || d < best.d) best = { name, d };
  }
  if (!best || best.d === 0) return best?.name;
  return best.d <= Math.max(1, Math.floor(best.name.length / 3)) ? best.name : undefined;
}

/** " (did you mean X?)" or nothing. */
export function didYouMean(word: string, known: readonly string[], render: (name: string) => string = (n) => n): string {
  const match = nearest(word, known);
  return match === undefined || match === word ? "" : `; did you mean ${render(match)}?`;
}
