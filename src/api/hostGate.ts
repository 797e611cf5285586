// A shared budget of requests in flight per API host, for many accounts in one process (ACCOUNTS_FILE).
// Several accounts of one white-label partner share its host and its rate limit: each host has one budget
// (INBOX_HOST_CONCURRENCY) that every account's client draws from. Waiting requests are served round-robin
// by account, so an account with many lanes cannot crowd out one with few (no account starves). A 429 for
// any account halves the host's budget and pauses the host for its Retry-After (capped), for every account;
// clean answers raise the budget again by one per budget's worth of answers (AIMD, as the lanes of one pass do).

/** What the inbox client needs of a budget (src/api/client.ts `gate`). */
export interface RequestGate {
  /** Resolves with a release function once a request may be sent; rejects when `signal` aborts first. */
  acquire(signal?: AbortSignal): Promise<() => void>;
  /** Every answer (status, or "error" for none), with its Retry-After when it was a 429. */
  answered(status: number | "error", retryAfterMs?: number): void;
}

export interface HostStats {
  host: string;
  inFlight: number;
  /** The budget now (lowered by 429s, raised by clean answers), at most `max`. */
  limit: number;
  max: number;
  /** Most requests ever in flight at once: never above `max`. */
  peak: number;
  throttled: number;
}

/** Longest pause of a whole host after a 429's Retry-After. */
const MAX_PAUSE_MS = 30_000;

interface Waiter {
  resolve: (release: () => void) => void;
  reject: (error: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

class HostBudget {
  inFlight = 0;
  peak = 0;
  limit: number;
  throttled = 0;
  private clean = 0;
  private pausedUntil = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly waiting = new Map<string, Waiter[]>();
  /** Accounts with waiting requests, in the order they are served next. */
  private readonly turns: string[] = [];

  constructor(readonly host: string, readonly max: number, private readonly now: () => number) {
    this.limit = max;
  }

  acquire(account: string, signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signal.reason ?? new Error("aborted"));
    if (this.turns.length === 0 && this.inFlight < this.limit && this.now() >= this.pausedUntil) return Promise.resolve(this.take());
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve, reject, signal,
        onAbort: () => {
          const queue = this.waiting.get(account);
          const at = queue?.indexOf(waiter) ?? -1;
          if (queue && at >= 0) queue.splice(at, 1);
          if (queue && queue.length === 0) {
            this.waiting.delete(account);
            const turn = this.turns.indexOf(account);
            if (turn >= 0) this.turns.splice(turn, 1);
          }
          reject(signal?.reason ?? new Error("aborted"));
        },
      };
      signal?.addEventListener("abort", waiter.onAbort, { once: true });
      const queue = this.waiting.get(account);
      if (queue) queue.push(waiter);
      else {
        this.waiting.set(account, [waiter]);
        this.turns.push(account);
      }
      this.pump();
    });
  }

  answered(status: number | "error", retryAfterMs: number | undefined): void {
    if (status === 429) {
      this.throttled += 1;
      this.limit = Math.max(1, Math.floor(this.limit / 2));
      this.clean = 0;
      if (retryAfterMs !== undefined && retryAfterMs > 0) this.pausedUntil = Math.max(this.pausedUntil, this.now() + Math.min(retryAfterMs, MAX_PAUSE_MS));
    } else if (typeof status === "number" && status < 500) {
      this.clean += 1;
      if (this.clean >= this.limit && this.limit < this.max) {
        this.limit += 1;
        this.clean = 0;
      }
    }
    this.pump();
  }

  private take(): () => void {
    this.inFlight += 1;
    this.peak = Math.max(this.peak, this.inFlight);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inFlight -= 1;
      this.pump();
    };
  }

  private pump(): void {
    const wait = this.pausedUntil - this.now();
    if (wait > 0) {
      if (this.turns.length > 0 && !this.timer) {
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.pump();
        }, wait);
        this.timer.unref();
      }
      return;
    }
    while (this.inFlight < this.limit && this.turns.length > 0) {
      const account = this.turns.shift()!;
      const queue = this.waiting.get(account)!;
      const waiter = queue.shift()!;
      if (queue.length > 0) this.turns.push(account);
      else this.waiting.delete(account);
      waiter.signal?.removeEventListener("abort", waiter.onAbort);
      waiter.resolve(this.take());
    }
  }
}

/** The budgets of every API host this process talks to, one per host (origin). */
export class HostGates {
  private readonly budgets = new Map<string, HostBudget>();

  constructor(private readonly max: number, private readonly now: () => number = Date.now) {}

  /** The gate an account's client uses for `url`'s host. */
  gate(url: URL, account: string): RequestGate {
    const host = url.host;
    let budget = this.budgets.get(host);
    if (!budget) {
      budget = new HostBudget(host, this.max, this.now);
      this.budgets.set(host, budget);
    }
    const b = budget;
    return { acquire: (signal) => b.acquire(account, signal), answered: (status, retryAfterMs) => b.answered(status, retryAfterMs) };
  }

  stats(): HostStats[] {
    return [...this.budgets.values()].map((b) => ({ host: b.host, inFlight: b.inFlight, limit: b.limit, max: b.max, peak: b.peak, throttled: b.throttled }));
  }
}
