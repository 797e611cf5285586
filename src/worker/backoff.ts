// How the worker backs off after repeated failures. Pure.
//
// One failure changes nothing: the next tick tries again (most failures are passing). After n failures in a
// row, 2^(n-1) - 1 scheduled ticks are skipped (1, 3, 7, 15...), but never for longer than `maxMs` after the
// last failure, so a broken pass is still tried at least that often and a fix (a new token) is noticed soon.
// The process never exits over it: exiting would only turn a failing pass into a restart loop.

export const DEFAULT_BACKOFF_MAX_MS = 3_600_000;

export function ticksToSkip(failures: number): number {
  return failures <= 1 ? 0 : 2 ** Math.min(failures - 1, 20) - 1;
}

export class Backoff {
  failures = 0;
  private lastFailureAt = 0;
  private skipped = 0;

  constructor(private readonly maxMs = DEFAULT_BACKOFF_MAX_MS) {}

  recordFailure(now: number): void {
    this.failures += 1;
    this.lastFailureAt = now;
    this.skipped = 0;
  }

  recordSuccess(): void {
    this.failures = 0;
    this.skipped = 0;
  }

  /** Whether this scheduled tick should run; a skipped tick counts towards the back-off. */
  shouldRun(now: number): boolean {
    if (this.skipped >= ticksToSkip(this.failures) || now - this.lastFailureAt >= this.maxMs) return true;
    this.skipped += 1;
    return false;
  }

  /** Ticks still to skip before the next attempt (for logs and health). */
  get remaining(): number {
    return Math.max(0, ticksToSkip(this.failures) - this.skipped);
  }
}
