// Progress of a long pass. It listens to the engine's per-page callback (SyncContext.onPage) and reads the
// HTTP client's running totals; nothing else of the engine. On a terminal it keeps one live line on stderr;
// otherwise it logs the same figures at `info` every PROGRESS_INTERVAL.
import type { RunCounters, RunKind } from "./db/sql/runs.js";
import { showStatusLine, type Logger } from "./log.js";

/** The HTTP client's running totals (InboxClient has them). */
export interface HttpTotals {
  readonly requests: number;
  readonly retries: number;
  readonly throttled: number;
}

export interface ProgressOptions {
  http: HttpTotals;
  logger: Logger;
  /** stderr is a terminal: keep a live line there (its width, to fit); undefined: periodic log lines instead. */
  terminal?: { columns?: number };
  intervalMs: number;
  /** SYNC_CONCURRENCY: the most lanes a window reads at once. */
  concurrency: number;
  color?: boolean;
  /** Reconcile: the live contacts the mirror holds, to estimate the share of the pass done. */
  expected?: number;
}

export interface ProgressFigures {
  kind: RunKind | undefined;
  received: number;
  written: number;
  pages: number;
  requests: number;
  retries: number;
  throttled: number;
  elapsedS: number;
  requestsPerS: number;
  contactsPerS: number;
  concurrency: number;
  /** Reconcile only: received as a share of the mirror's live contacts (an estimate; capped at 99 until the end). */
  percent?: number;
}

export class Progress {
  private readonly started = Date.now();
  private readonly base: { requests: number; retries: number; throttled: number };
  private counters: RunCounters | undefined;
  private kind: RunKind | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly options: ProgressOptions) {
    const { requests, retries, throttled } = options.http;
    this.base = { requests, retries, throttled };
  }

  /** Requests the lanes are allowed in flight right now (the engine halves it on 429s); null: not told yet. */
  private lanes: number | null = null;

  /** Pass this as SyncContext.onConcurrency. */
  readonly onConcurrency = (allowed: number): void => {
    this.lanes = allowed;
  };

  /** Pass this as SyncContext.onPage. */
  readonly onPage = (kind: RunKind, counters: RunCounters): void => {
    this.kind = kind;
    this.counters = counters;
    if (this.options.terminal) this.draw();
  };

  start(): this {
    const { terminal, intervalMs, logger } = this.options;
    if (terminal) this.timer = setInterval(() => this.draw(), 1000);
    else if (intervalMs >= 1000) this.timer = setInterval(() => logger.info(this.figures(), `progress: ${this.text()}`), intervalMs);
    this.timer?.unref();
    return this;
  }

  /** Stops and clears the live line (the summary takes its place). */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.options.terminal) showStatusLine(undefined);
  }

  figures(): ProgressFigures {
    const c = this.counters;
    const http = this.options.http;
    const elapsedS = (Date.now() - this.started) / 1000;
    const requests = http.requests - this.base.requests;
    const received = c?.received ?? 0;
    const per = (n: number) => (elapsedS > 0 ? Math.round((n / elapsedS) * 10) / 10 : 0);
    const expected = this.options.expected;
    return {
      kind: this.kind,
      received,
      written: (c?.inserted ?? 0) + (c?.updated ?? 0),
      pages: c?.pages ?? 0,
      requests,
      retries: http.retries - this.base.retries,
      throttled: http.throttled - this.base.throttled,
      elapsedS: Math.round(elapsedS),
      requestsPerS: per(requests),
      contactsPerS: per(received),
      concurrency: this.lanes ?? this.options.concurrency,
      ...(this.kind === "reconcile" && expected ? { percent: Math.min(99, Math.floor((received / expected) * 100)) } : {}),
    };
  }

  text(): string {
    const f = this.figures();
    return (
      `${f.percent !== undefined ? `~${f.percent}% ` : ""}received ${f.received}, written ${f.written}, pages ${f.pages}; ` +
      `${f.requestsPerS} req/s, ${f.contactsPerS} contacts/s; ${clock(f.elapsedS)} elapsed; concurrency ${f.concurrency}/${this.options.concurrency}; ` +
      `retries ${f.retries}, 429s ${f.throttled}`
    );
  }

  private draw(): void {
    const { terminal, color } = this.options;
    if (!terminal || this.stopped) return;
    const width = terminal.columns ?? 0;
    let line = this.text();
    if (width > 1 && line.length >= width) line = `${line.slice(0, width - 2)}…`;
    showStatusLine(color ? `\x1b[2m${line}\x1b[22m` : line);
  }
}

function clock(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, "0")}m` : m > 0 ? `${m}m${String(s).padStart(2, "0")}s` : `${s}s`;
}
