// An HTTP double of the inbox API's `POST /inbox/users`, for the demo, the tests and the benchmarks: the
// documented wrapper, bearer auth, required-field 400s, hidden page size, no totals, gzip, latency, the
// faults real proxies produce (429 with and without Retry-After, HTML 5xx, resets, truncated and slow
// answers, HTML with 200) and live changes to the data while a client pages through it; and, through
// `behaviour` (behaviour.ts), each undocumented reality: a skewed clock, other orders, unstable ties, short
// pages mid-list, one-sided ranges ignored, coarse or exclusive bounds, unlisted filters applied, rate limits.
import http from "node:http";
import type { Socket } from "node:net";
import { promisify } from "node:util";
import zlib from "node:zlib";
import { generateContacts } from "./generate.js";
import { Rng } from "./rng.js";
import { ContactStore, QueryError } from "./store.js";
import { CONTROL_PREFIX, handleControl } from "./control.js";
import { checkBehaviour, type ApiBehaviour } from "./behaviour.js";

export type { ApiBehaviour, ListingOrder } from "./behaviour.js";
export { ORDERS } from "./behaviour.js";

export type FaultKind =
  | "429"
  | "429-no-retry-after"
  | "500-html"
  | "502-html"
  | "503-html"
  | "reset"
  | "truncated"
  | "slow"
  | "html-200";
export const FAULT_KINDS: readonly FaultKind[] = Object.freeze([
  "429", "429-no-retry-after", "500-html", "502-html", "503-html", "reset", "truncated", "slow", "html-200",
] as FaultKind[]);

export interface FaultOptions {
  /** 0..1 probability that a request is answered with a fault instead of data. */
  rate: number;
  /** Which faults to draw from (uniformly); default all. */
  kinds?: FaultKind[];
  /** Value of Retry-After on '429' (default 1). */
  retryAfterSeconds?: number;
  /** Delay of a 'slow' answer (default 5000). */
  slowMs?: number;
}

export interface DoubleOptions {
  /** The one accepted bearer token. */
  token: string;
  /** Rows per page, never announced in responses (default 50). */
  pageSize?: number;
  /** Size of the generated data set (default 0). */
  contacts?: number;
  /** Deterministic generation, mutations and faults (default 1). */
  seed?: number;
  /** Clock in ms for generated dates and mutations (default Date.now); behaviour.clockSkewMs is added to it. */
  now?: () => number;
  /** Which reality of the undocumented API to play (default: the documented guess). See ApiBehaviour. */
  behaviour?: ApiBehaviour;
  /** Size of a cluster of contacts in the generated data that share one lastSeenAt (a broadcast answered in one
   *  millisecond), see generate.ts's seenTieCluster. Default 20 when behaviour.order is a lastSeenAt order (so
   *  such a double has a tie group of its sort value), else 0, which leaves the generated data exactly as before. */
  lastSeenTies?: number;
  /** The instant the generated data set ends at (default now()): fixed, a seed gives the same contacts every start. */
  anchor?: number;
  /** Added to every answer (default 0). */
  latencyMs?: number;
  /** Default none. */
  faults?: FaultOptions;
  /** Default true; false = ignore lastSeenAt/createdAt filters (an API that ignores the window). */
  honourDateFilters?: boolean;
  /** Default false: deleted contacts stop appearing; true: they still appear with status "DELETED". */
  deletedVisible?: boolean;
  host?: string;
  port?: number;
  /** Run before each /inbox/users answer is computed (before the auth check, so it may also swap the token). */
  beforeAnswer?: (req: RequestInfo, double: ApiDouble) => void | Promise<void>;
  /** Serve the unauthenticated /__control/ routes (control.ts) for a driver in another process; default false. */
  control?: boolean;
}

/** `n` is the 1-based counter of all requests the double received; `page` is 0 when the body has none. */
export interface RequestInfo {
  n: number;
  body: any;
  page: number;
}

export interface ApiDouble {
  /** The base, e.g. http://127.0.0.1:43121; the endpoint is url + '/inbox/users'. */
  url: string;
  store: ContactStore;
  /** inFlight: requests being answered now; peakInFlight: most at once so far (what a client's concurrency cap is checked by). */
  stats: { requests: number; byStatus: Record<string, number>; faults: number; rowsServed: number; inFlight: number; peakInFlight: number };
  /** `behaviour` in a patch replaces the whole behaviour (undefined = the documented guess). */
  setOptions(
    patch: Partial<
      Pick<DoubleOptions, "pageSize" | "latencyMs" | "faults" | "honourDateFilters" | "deletedVisible" | "token" | "beforeAnswer" | "behaviour">
    >,
  ): void;
  /** The behaviour being played (a copy). */
  readonly behaviour: ApiBehaviour;
  /** The API's clock (ms): what its Date header says, before rounding to the second. */
  apiNow(): number;
  /** Random live mutations on a timer (counts per tick). */
  startMutations(m: { everyMs: number; see?: number; create?: number; editSilently?: number; delete?: number }): void;
  stopMutations(): void;
  /** Stops listening and destroys every open connection (keep-alive ones included). */
  close(): Promise<void>;
}

const ENDPOINT = "/inbox/users";
const MAX_BODY_BYTES = 1 << 20;
/** Like the `compression` middleware: small answers are sent as they are even when gzip is accepted. */
const GZIP_THRESHOLD_BYTES = 1024;
const gzip = promisify(zlib.gzip);

const JSON_TYPE = "application/json; charset=utf-8";
const HTML_TYPE = "text/html; charset=utf-8";
const PROXY_TITLES: Record<number, string> = {
  500: "500 Internal Server Error",
  502: "502 Bad Gateway",
  503: "503 Service Temporarily Unavailable",
};
const MAINTENANCE_PAGE =
  '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>We\'ll be back soon</title></head>' +
  "<body><h1>We&rsquo;ll be back soon!</h1><p>The dashboard is undergoing scheduled maintenance. " +
  "Please try again in a few minutes.</p></body></html>";

function proxyPage(status: number): string {
  const title = PROXY_TITLES[status] ?? `${status} Error`;
  return `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`;
}

function wrapper(success: boolean, message: string, code: number, data: unknown[]): string {
  return JSON.stringify({ success, message, code, data });
}

function acceptsGzip(req: http.IncomingMessage): boolean {
  const header = req.headers["accept-encoding"];
  if (!header) return false;
  return header.split(",").some((part) => {
    const [name, ...params] = part.trim().toLowerCase().split(";");
    const q = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
    return (name === "gzip" || name === "*") && (q === undefined || Number(q.slice(2)) > 0);
  });
}

function checkFaults(f: FaultOptions | undefined): void {
  if (!f) return;
  if (!(f.rate >= 0 && f.rate <= 1)) throw new RangeError(`faults.rate must be within 0..1, got ${f.rate}`);
  if (f.kinds && f.kinds.length === 0) throw new RangeError("faults.kinds must not be empty (leave it out for all kinds)");
  for (const k of f.kinds ?? []) if (!FAULT_KINDS.includes(k)) throw new RangeError(`unknown fault kind ${k}`);
}

function checkPageSize(n: number): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`pageSize must be a positive integer, got ${n}`);
  return n;
}

interface Sleeper {
  timer: NodeJS.Timeout;
  resolve: () => void;
}

class Double implements ApiDouble {
  url = "";
  readonly store: ContactStore;
  readonly stats = { requests: 0, byStatus: {} as Record<string, number>, faults: 0, rowsServed: 0, inFlight: 0, peakInFlight: 0 };

  private token: string;
  private pageSize: number;
  private latencyMs: number;
  private faults: FaultOptions | undefined;
  private beforeAnswer: DoubleOptions["beforeAnswer"];
  private readonly faultRng: Rng;
  private readonly server: http.Server;
  private readonly sockets = new Set<Socket>();
  private readonly sleepers = new Set<Sleeper>();
  private mutationTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private behaviourValue: ApiBehaviour;
  /** The fixed rate-limit window: when it started (real ms) and how many requests it has counted. */
  private rateWindow = { start: 0, used: 0 };

  constructor(opts: DoubleOptions) {
    const seed = opts.seed ?? 1;
    const baseNow = opts.now ?? Date.now;
    this.behaviourValue = checkBehaviour(opts.behaviour);
    // The API stamps with its own clock: ours plus the skew (read on every call, so setOptions can change it).
    const now = () => baseNow() + (this.behaviourValue.clockSkewMs ?? 0);
    this.token = opts.token;
    this.pageSize = checkPageSize(opts.pageSize ?? 50);
    this.latencyMs = opts.latencyMs ?? 0;
    checkFaults(opts.faults);
    this.faults = opts.faults;
    this.beforeAnswer = opts.beforeAnswer;
    this.faultRng = new Rng(seed ^ 0x68e31da4);
    const lastSeenTies = opts.lastSeenTies ?? (this.behaviourValue.order?.startsWith("lastSeenAt") ? 20 : 0);
    // A fixed anchor is on the API's clock too (the skew applies to the data set as to every stamp).
    const anchor = opts.anchor === undefined ? undefined : opts.anchor + (this.behaviourValue.clockSkewMs ?? 0);
    this.store = new ContactStore(generateContacts(opts.contacts ?? 0, { seed, now: anchor ?? now, lastSeenTies }), {
      seed,
      now,
      deletedVisible: opts.deletedVisible ?? false,
      honourDateFilters: opts.honourDateFilters ?? true,
      behaviour: this.behaviourValue,
    });
    const control = opts.control ?? false;
    this.server = http.createServer((req, res) => {
      if (control && req.url?.startsWith(CONTROL_PREFIX)) return void handleControl(req, res, this).catch((error: unknown) => this.fail(res, error));
      this.stats.inFlight += 1;
      this.stats.peakInFlight = Math.max(this.stats.peakInFlight, this.stats.inFlight);
      res.once("close", () => (this.stats.inFlight -= 1));
      this.handle(req, res).catch((error: unknown) => this.fail(res, error));
    });
    this.server.on("connection", (socket: Socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
    });
  }

  async listen(host: string, port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, host, () => {
        this.server.off("error", reject);
        resolve();
      });
    });
    const address = this.server.address();
    if (address === null || typeof address === "string") throw new Error("the API double did not get a TCP address");
    const shownHost = address.address.includes(":") ? `[${address.address}]` : address.address;
    this.url = `http://${shownHost}:${address.port}`;
  }

  setOptions(patch: Parameters<ApiDouble["setOptions"]>[0]): void {
    if ("pageSize" in patch) this.pageSize = checkPageSize(patch.pageSize ?? 50);
    if ("latencyMs" in patch) this.latencyMs = patch.latencyMs ?? 0;
    if ("faults" in patch) {
      checkFaults(patch.faults);
      this.faults = patch.faults;
    }
    if ("honourDateFilters" in patch) this.store.honourDateFilters = patch.honourDateFilters ?? true;
    if ("deletedVisible" in patch) this.store.deletedVisible = patch.deletedVisible ?? false;
    if (patch.token !== undefined) this.token = patch.token;
    if ("beforeAnswer" in patch) this.beforeAnswer = patch.beforeAnswer;
    if ("behaviour" in patch) {
      const b = checkBehaviour(patch.behaviour);
      this.behaviourValue = b;
      this.store.behaviour = b;
      this.rateWindow = { start: 0, used: 0 };
    }
  }

  get behaviour(): ApiBehaviour {
    return checkBehaviour(this.behaviourValue);
  }

  apiNow(): number {
    return Date.now() + (this.behaviourValue.clockSkewMs ?? 0);
  }

  startMutations(m: { everyMs: number; see?: number; create?: number; editSilently?: number; delete?: number }): void {
    if (!(m.everyMs > 0)) throw new RangeError(`everyMs must be positive, got ${m.everyMs}`);
    this.stopMutations();
    const alive = (c: { status: string }) => c.status !== "DELETED";
    this.mutationTimer = setInterval(() => {
      const store = this.store;
      for (const id of store.randomIds(m.see ?? 0, alive)) store.see(id);
      if (m.create) store.create(m.create);
      for (const id of store.randomIds(m.editSilently ?? 0, alive)) store.editSilently(id);
      for (const id of store.randomIds(m.delete ?? 0, alive)) store.delete(id);
    }, m.everyMs);
    this.mutationTimer.unref();
  }

  stopMutations(): void {
    if (this.mutationTimer) clearInterval(this.mutationTimer);
    this.mutationTimer = undefined;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopMutations();
    for (const s of this.sleepers) {
      clearTimeout(s.timer);
      s.resolve();
    }
    this.sleepers.clear();
    const done = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    for (const socket of this.sockets) socket.destroy();
    await done;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const n = ++this.stats.requests;
    const raw = await readBody(req);
    if (this.latencyMs > 0) await this.sleep(this.latencyMs);
    if (this.closed) return void req.socket.destroy();

    const path = (req.url ?? "/").split("?")[0];
    const limited = this.countRate(res);
    if (req.method !== "POST" || path !== ENDPOINT) {
      return this.sendJson(req, res, 404, wrapper(false, "Not Found", 404, [`Cannot ${req.method} ${path}`]));
    }
    if (raw === null) {
      return this.sendJson(req, res, 413, wrapper(false, "Payload Too Large", 413, ["request entity too large"]));
    }
    let body: unknown = {};
    let badJson: string | undefined;
    const text = raw.toString("utf8");
    if (text.trim() !== "") {
      try {
        body = JSON.parse(text);
      } catch (error) {
        badJson = error instanceof Error ? error.message : "Unexpected token in JSON body";
        body = undefined;
      }
    }

    if (this.beforeAnswer) {
      const page = (body as { page?: unknown } | undefined)?.page;
      await this.beforeAnswer({ n, body, page: typeof page === "number" && Number.isInteger(page) ? page : 0 }, this);
      if (this.closed) return void req.socket.destroy();
    }

    if (limited !== undefined) {
      const payload = wrapper(false, "Too Many Requests", 429, ["Rate limit exceeded. Please try again later."]);
      return this.sendJson(req, res, 429, payload, { "retry-after": limited });
    }

    const auth = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "");
    if (!auth || auth[1] !== this.token) {
      return this.sendJson(req, res, 401, wrapper(false, "Unauthorized", 401, ["Invalid or expired token"]));
    }

    let truncate = false;
    const fault = this.drawFault();
    if (fault) {
      this.stats.faults++;
      switch (fault) {
        case "429":
        case "429-no-retry-after": {
          const headers: http.OutgoingHttpHeaders = {};
          if (fault === "429") headers["retry-after"] = String(this.faults?.retryAfterSeconds ?? 1);
          const payload = wrapper(false, "Too Many Requests", 429, ["Rate limit exceeded. Please try again later."]);
          return this.sendJson(req, res, 429, payload, headers);
        }
        case "500-html":
        case "502-html":
        case "503-html":
          return this.sendHtml(res, Number(fault.slice(0, 3)), proxyPage(Number(fault.slice(0, 3))));
        case "html-200":
          return this.sendHtml(res, 200, MAINTENANCE_PAGE);
        case "reset":
          this.count("reset");
          req.socket.resetAndDestroy();
          return;
        case "slow":
          await this.sleep(this.faults?.slowMs ?? 5000);
          if (this.closed) return void req.socket.destroy();
          break;
        case "truncated":
          truncate = true;
          break;
      }
    }

    let payload: string;
    let status = 200;
    let rows = 0;
    if (badJson !== undefined) {
      status = 400;
      payload = wrapper(false, "Invalid JSON body", 400, [badJson]);
    } else {
      try {
        const result = this.store.query(body, this.pageSize);
        rows = result.rows.length;
        payload = wrapper(true, "ok", 200, result.rows);
      } catch (error) {
        if (!(error instanceof QueryError)) throw error;
        status = 400;
        payload = wrapper(false, error.messages[0] ?? "Bad Request", 400, error.messages);
      }
    }
    if (truncate) return this.sendTruncated(req, res, status, payload);
    this.stats.rowsServed += rows;
    return this.sendJson(req, res, status, payload);
  }

  /**
   * Counts the request against the rate limit, if there is one, and sets the X-RateLimit-* headers of its
   * answer. Returns the Retry-After value when the request is over the limit.
   */
  private countRate(res: http.ServerResponse): string | undefined {
    const r = this.behaviourValue.rateLimit;
    if (!r) return undefined;
    const real = Date.now();
    if (this.rateWindow.used === 0 || real >= this.rateWindow.start + r.windowMs) this.rateWindow = { start: real, used: 0 };
    this.rateWindow.used++;
    const leftMs = Math.max(0, this.rateWindow.start + r.windowMs - real);
    const resetAt = this.apiNow() + leftMs;
    res.setHeader("x-ratelimit-limit", String(r.limit));
    res.setHeader("x-ratelimit-remaining", String(Math.max(0, r.limit - this.rateWindow.used)));
    res.setHeader("x-ratelimit-reset", String(Math.ceil(resetAt / 1000)));
    if (this.rateWindow.used <= r.limit) return undefined;
    return r.retryAfter === "date" ? new Date(Math.ceil(resetAt / 1000) * 1000).toUTCString() : String(Math.max(1, Math.ceil(leftMs / 1000)));
  }

  /** The Date header from the API's clock (Node would send ours). */
  private stampDate(res: http.ServerResponse): void {
    if (!res.headersSent) res.setHeader("date", new Date(this.apiNow()).toUTCString());
  }

  private drawFault(): FaultKind | undefined {
    const f = this.faults;
    if (!f || f.rate <= 0) return undefined;
    if (this.faultRng.next() >= f.rate) return undefined;
    const kinds = f.kinds ?? FAULT_KINDS;
    return kinds[this.faultRng.int(kinds.length)];
  }

  private async sendJson(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    status: number,
    payload: string,
    extra: http.OutgoingHttpHeaders = {},
  ): Promise<void> {
    let body = Buffer.from(payload, "utf8");
    const headers: http.OutgoingHttpHeaders = { "content-type": JSON_TYPE, "x-powered-by": "Express", vary: "Accept-Encoding", ...extra };
    if (body.length >= GZIP_THRESHOLD_BYTES && acceptsGzip(req)) {
      body = await gzip(body);
      headers["content-encoding"] = "gzip";
    }
    if (res.destroyed || this.closed) return;
    headers["content-length"] = body.length;
    this.count(String(status));
    this.stampDate(res);
    res.writeHead(status, headers);
    res.end(body);
  }

  private sendHtml(res: http.ServerResponse, status: number, page: string): void {
    if (res.destroyed) return;
    const body = Buffer.from(page, "utf8");
    this.count(String(status));
    this.stampDate(res);
    res.writeHead(status, { "content-type": HTML_TYPE, "content-length": body.length, server: "nginx" });
    res.end(body);
  }

  /** Announces the whole body, sends half of it, then drops the connection. */
  private sendTruncated(req: http.IncomingMessage, res: http.ServerResponse, status: number, payload: string): void {
    if (res.destroyed) return;
    const body = Buffer.from(payload, "utf8");
    this.count(String(status));
    this.stampDate(res);
    res.writeHead(status, { "content-type": JSON_TYPE, "content-length": body.length });
    res.write(body.subarray(0, Math.floor(body.length / 2)), () => req.socket.destroy());
  }

  private fail(res: http.ServerResponse, error: unknown): void {
    if (res.headersSent || res.destroyed) {
      res.destroy();
      return;
    }
    const message = error instanceof Error ? error.message : String(error);
    const body = wrapper(false, "Internal Server Error", 500, [message]);
    this.count("500");
    this.stampDate(res);
    res.writeHead(500, { "content-type": JSON_TYPE, "content-length": Buffer.byteLength(body) });
    res.end(body);
  }

  private count(key: string): void {
    this.stats.byStatus[key] = (this.stats.byStatus[key] ?? 0) + 1;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const sleeper: Sleeper = {
        timer: setTimeout(() => {
          this.sleepers.delete(sleeper);
          resolve();
        }, ms),
        resolve,
      };
      this.sleepers.add(sleeper);
    });
  }
}

/** The request body, or null when it is larger than the double accepts. */
async function readBody(req: http.IncomingMessage): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) tooLarge = true;
    else chunks.push(chunk);
  }
  return tooLarge ? null : Buffer.concat(chunks);
}

export async function startApiDouble(opts: DoubleOptions): Promise<ApiDouble> {
  const double = new Double(opts);
  await double.listen(opts.host ?? "127.0.0.1", opts.port ?? 0);
  return double;
}
