// The HTTP client of the inbox API: keep-alive connections, compressed answers, timeouts, and retries
// with exponential backoff and jitter for what is passing (429, 5xx, resets, timeouts, garbled bodies).
// What cannot pass by waiting (a refused token, a refused request, an answer of the wrong shape) fails at once.
import { setTimeout as sleep } from "node:timers/promises";
import { brotliDecompressSync, gunzipSync, inflateSync } from "node:zlib";
import { Agent, request, type Dispatcher } from "undici";
import pRetry, { AbortError } from "p-retry";
import { ApiError, StoppedError } from "../errors.js";
import type { Logger } from "../log.js";
import { buildRequestBody, type InboxQuery } from "./requestBody.js";
import { interpretAnswer, type RawContact } from "./response.js";
import type { RequestGate } from "./hostGate.js";
import { giveUpOnUnreachable, QUIET_RETRY_MS, unreachableError } from "./unreachable.js";

export interface ClientOptions {
  baseUrl: URL;
  token: string;
  filters: Record<string, unknown>;
  timeoutMs: number;
  retries: number;
  logger: Logger;
  /** Backoff before the first retry (doubles each time, with jitter); tests lower it. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Longest Retry-After honoured; a longer one is capped (and logged). */
  maxRetryAfterMs?: number;
  /** Largest body accepted, to fail loudly on a runaway page instead of exhausting memory. */
  maxBodyBytes?: number;
  connections?: number;
  /** Observers for metrics: every answer (status or "error") and every retry. */
  onAnswer?: (status: number | "error") => void;
  onRetry?: (error: ApiError) => void;
  /** A budget of requests in flight shared with other accounts on the same host (src/api/hostGate.ts); none: only `connections` limits. */
  gate?: RequestGate;
}

export interface PageRequest {
  query: InboxQuery;
  page: number;
  signal?: AbortSignal;
}

/** Rate-limit headers of an answer, as the API sent them (any may be absent). */
export interface RateLimitHeaders {
  limit?: number;
  remaining?: number;
  /** X-RateLimit-Reset as sent (epoch seconds or seconds from now: APIs differ). */
  reset?: number;
  /** Retry-After as sent (seconds or an HTTP date). */
  retryAfter?: string;
}

/** One page, with what the engine and `check` steer by: the API's clock, throttling and retries met on the way. */
export interface PageAnswer {
  rows: RawContact[];
  /**
   * The answer's JSON as it arrived (decompressed), when it holds no NUL escape: the page write hands these
   * bytes to PostgreSQL, which takes each contact's `raw` from them (src/db/sql/upsertContacts.ts), so the
   * sync never serialises a contact again. Absent: `raw` is serialised from `rows`.
   */
  json?: Buffer;
  /** The API's clock from its Date header (ms since epoch, second precision), or undefined when absent/unparsable. */
  serverDate?: number;
  /** Our clock (ms) when the answer's request was sent and when the answer was read: the Date header lies between. */
  sentAt: number;
  receivedAt: number;
  /** 429 answers met while getting this page (each was retried). */
  throttled: number;
  /** Retries made for this page. */
  retries: number;
  /** HTTP attempts made for this page (1 + retries). */
  attempts: number;
  rateLimit?: RateLimitHeaders;
}

export class InboxClient {
  private readonly dispatcher: Dispatcher;
  private readonly endpoint: URL;
  requests = 0;
  retries = 0;
  /** 429 answers so far: the sync reads it to lower its concurrency. */
  throttled = 0;

  constructor(private readonly options: ClientOptions) {
    const base = options.baseUrl.toString().replace(/\/?$/, "/");
    this.endpoint = new URL("inbox/users", base);
    this.dispatcher = new Agent({
      connections: options.connections ?? 8,
      keepAliveTimeout: 30_000,
      // Certificates are always verified, whatever NODE_TLS_REJECT_UNAUTHORIZED says: the token travels on this
      // connection. (A private CA is trusted with NODE_EXTRA_CA_CERTS, which still verifies.)
      connect: { timeout: Math.min(options.timeoutMs, 15_000), rejectUnauthorized: true },
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    });
  }

  /** One page of contacts; retried while the failure is passing, thrown as an ApiError otherwise. */
  async fetchPage({ query, page, signal }: PageRequest): Promise<PageAnswer> {
    const body = JSON.stringify(buildRequestBody(query, page, this.options.filters));
    const { retries, minBackoffMs = 500, maxBackoffMs = 30_000, maxRetryAfterMs = 300_000 } = this.options;
    const met = { throttled: 0, retries: 0, attempts: 0 };
    const started = Date.now();
    return pRetry(
      async () => {
        if (signal?.aborted) throw new AbortError(new StoppedError());
        try {
          return await this.attempt(body, signal, met);
        } catch (error) {
          if (signal?.aborted) throw new AbortError(new StoppedError());
          if (error instanceof ApiError && error.kind !== "transient") throw new AbortError(error);
          throw error;
        }
      },
      {
        retries,
        factor: 2,
        minTimeout: minBackoffMs,
        maxTimeout: maxBackoffMs,
        randomize: true,
        signal,
        onFailedAttempt: async ({ error, attemptNumber, retriesLeft }) => {
          const apiError = error instanceof ApiError ? error : new ApiError("transient", error.message);
          if (retriesLeft <= 0) return;
          if (giveUpOnUnreachable(apiError, attemptNumber, Date.now() - started)) throw apiError; // p-retry stops with it
          this.retries += 1;
          met.retries += 1;
          this.options.onRetry?.(apiError);
          // Quiet while it is a blip; visible once a page has been retried for a few seconds.
          this.options.logger[Date.now() - started >= QUIET_RETRY_MS ? "info" : "debug"](
            { attempt: attemptNumber, retriesLeft, status: apiError.details.status, reason: apiError.message, page },
            "retrying inbox request",
          );
          const wait = apiError.details.retryAfterMs;
          if (wait !== undefined && wait > 0) {
            if (wait > maxRetryAfterMs) this.options.logger.warn({ retryAfterMs: wait }, "Retry-After is longer than the cap; waiting the cap");
            // Honour the server's wait; the backoff that p-retry adds after this keeps replicas apart.
            await sleep(Math.min(wait, maxRetryAfterMs), undefined, { signal }).catch(() => undefined);
          }
        },
      },
    ).catch((error: unknown) => {
      if (error instanceof StoppedError) throw error;
      if (signal?.aborted) throw new StoppedError();
      if (error instanceof ApiError && error.details.unreachable) {
        throw new ApiError("transient", `${error.message} Nothing was written; the checkpoint is unchanged.`, error.details);
      }
      if (error instanceof ApiError && error.kind === "transient") {
        throw new ApiError(
          "transient",
          `${error.message} Gave up after ${retries + 1} attempts. Nothing of this page was written and the ` +
            `checkpoint is unchanged: the next run continues from here. If this persists, the API may be down ` +
            `or rate-limiting this account (INBOX_RETRIES, INBOX_TIMEOUT tune the patience).`,
          error.details,
        );
      }
      throw error;
    });
  }

  private async attempt(body: string, signal: AbortSignal | undefined, met: { throttled: number; retries: number; attempts: number }): Promise<PageAnswer> {
    this.requests += 1;
    met.attempts += 1;
    // With a shared host budget, the request waits for its turn (before its clock sample starts); the slot is
    // held until the body is read.
    const release = await this.options.gate?.acquire(signal);
    const sentAt = Date.now();
    const maxBodyBytes = this.options.maxBodyBytes ?? 64 * 1024 * 1024;
    let status: number;
    let bytes: Buffer;
    let headers: Record<string, string | string[] | undefined>;
    try {
      const response = await request(this.endpoint, {
        method: "POST",
        dispatcher: this.dispatcher,
        signal,
        headers: {
          "content-type": "application/json",
          accept: "application/json",
          "accept-encoding": "gzip, deflate, br",
          authorization: `Bearer ${this.options.token}`,
          authtype: "Key",
          "user-agent": "contacts-sync",
        },
        body,
      });
      status = response.statusCode;
      headers = response.headers;
      bytes = decode(await readLimited(response.body, maxBodyBytes), response.headers["content-encoding"], maxBodyBytes);
    } catch (error) {
      release?.();
      this.options.onAnswer?.("error");
      this.options.gate?.answered("error");
      if (error instanceof ApiError) throw error;
      if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/.test(String((error as { code?: unknown }).code ?? ""))) {
        // Not passing: retrying a certificate that does not verify only delays the same answer.
        throw new ApiError(
          "request",
          `The inbox API's TLS certificate could not be verified (${describeNetworkError(error)}); the token is never sent to a server ` +
            "that cannot prove who it is. Check INBOX_API_URL; behind a proxy with its own certificate authority, point " +
            "NODE_EXTRA_CA_CERTS at that authority's certificate. Nothing of this page was written; the checkpoint is unchanged.",
        );
      }
      throw unreachableError(error, this.endpoint) ?? new ApiError("transient", `The inbox API could not be reached or did not answer in full (${describeNetworkError(error)}).`);
    }
    release?.();
    const receivedAt = Date.now();
    this.options.onAnswer?.(status);
    if (this.options.gate) this.options.gate.answered(status, status === 429 ? retryAfterMsOf(header(headers, "retry-after")) : undefined);
    if (status === 429) {
      this.throttled += 1;
      met.throttled += 1;
    }
    const contentType = String(headers["content-type"] ?? "");
    const retryAfter = header(headers, "retry-after");
    const text = bytes.toString("utf8");
    const rows = interpretAnswer({ status, contentType, body: text, retryAfter });
    const date = Date.parse(header(headers, "date") ?? "");
    const rateLimit = rateLimitHeaders(headers, retryAfter);
    return {
      rows, sentAt, receivedAt, ...met,
      // PostgreSQL refuses \u0000 in jsonb: such a page is written from rows, cleaned (mapContact.ts).
      ...(text.includes("\\u0000") ? {} : { json: bytes }),
      ...(Number.isFinite(date) ? { serverDate: date } : {}),
      ...(rateLimit ? { rateLimit } : {}),
    };
  }

  /** The same API, token and settings with other filters (its own connections: close it when done). */
  withFilters(filters: Record<string, unknown>): InboxClient {
    return new InboxClient({ ...this.options, filters });
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }
}

/** Retry-After in ms (seconds or an HTTP date), for the host budget's pause; undefined when absent or unreadable. */
function retryAfterMsOf(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** X-RateLimit-* (and the RateLimit-* draft names) and Retry-After, when the API sends any. */
function rateLimitHeaders(headers: Record<string, string | string[] | undefined>, retryAfter: string | undefined): RateLimitHeaders | undefined {
  const number = (...names: string[]) => {
    for (const name of names) {
      const n = Number(header(headers, name));
      if (header(headers, name) !== undefined && Number.isFinite(n)) return n;
    }
    return undefined;
  };
  const out: RateLimitHeaders = {};
  const limit = number("x-ratelimit-limit", "ratelimit-limit");
  const remaining = number("x-ratelimit-remaining", "ratelimit-remaining");
  const reset = number("x-ratelimit-reset", "ratelimit-reset");
  if (limit !== undefined) out.limit = limit;
  if (remaining !== undefined) out.remaining = remaining;
  if (reset !== undefined) out.reset = reset;
  if (retryAfter !== undefined) out.retryAfter = retryAfter;
  return Object.keys(out).length > 0 ? out : undefined;
}

// Synchronous, in one call with a large output chunk: a page is at most a few MiB, and measured on a page of
// 100 contacts this is about 5 × less CPU than the callback form with zlib's default 16 KiB chunks (the work
// done per chunk, not the inflating, dominated). docs/benchmarks.md, "Where the time goes". A gzip body
// says its own decompressed size in its last four bytes (modulo 4 GiB): the output is then one buffer of
// exactly that size instead of a chunk mostly empty, which only a garbage collection would give back.
const CHUNK = 64 * 1024;

function chunkFor(name: string, body: Buffer, max: number): number {
  if ((name === "gzip" || name === "x-gzip") && body.length >= 18) {
    const size = body.readUInt32LE(body.length - 4);
    // Believed only within deflate's largest ratio (about 1032:1): a garbled trailer cannot ask for much.
    if (size > 0 && size <= max && size <= body.length * 1032) return Math.max(size, 64);
  }
  return CHUNK;
}
const DECODERS: Record<string, (input: Buffer, options: { maxOutputLength: number; chunkSize: number }) => Buffer> = {
  gzip: gunzipSync,
  "x-gzip": gunzipSync,
  deflate: inflateSync,
  br: brotliDecompressSync,
};

/** Undoes Content-Encoding; a body that fails to decompress was cut off or garbled on the way (retried). */
function decode(body: Buffer, encoding: string | string[] | undefined, max: number): Buffer {
  const name = String(Array.isArray(encoding) ? encoding[0] : encoding ?? "identity").trim().toLowerCase();
  const decoder = DECODERS[name];
  if (!decoder) return body;
  try {
    return decoder(body, { maxOutputLength: max, chunkSize: chunkFor(name, body, max) });
  } catch (error) {
    const tooLarge = (error as { code?: string }).code === "ERR_BUFFER_TOO_LARGE";
    if (tooLarge) throw new ApiError("shape", `The inbox API sent a page larger than ${Math.round(max / 1048576)} MiB; refusing to hold it in memory. Nothing was written.`);
    throw new ApiError("transient", `The inbox API sent a ${name} body that does not decompress (truncated or garbled).`);
  }
}

async function readLimited(body: AsyncIterable<Buffer> & { destroy?: (e?: Error) => void }, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > max) {
      body.destroy?.();
      throw new ApiError("shape", `The inbox API sent a page larger than ${Math.round(max / 1048576)} MiB; refusing to hold it in memory. Nothing was written.`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function describeNetworkError(error: unknown): string {
  const e = error as { code?: string; message?: string; name?: string };
  const code = e.code ?? e.name ?? "error";
  const messages: Record<string, string> = {
    UND_ERR_HEADERS_TIMEOUT: "no answer within INBOX_TIMEOUT",
    UND_ERR_BODY_TIMEOUT: "the body stalled beyond INBOX_TIMEOUT",
    UND_ERR_CONNECT_TIMEOUT: "connecting timed out",
    UND_ERR_SOCKET: "the connection was closed mid-answer",
    ECONNRESET: "the connection was reset",
    ECONNREFUSED: "the connection was refused",
    ENOTFOUND: "the host name does not resolve",
    UND_ERR_RES_CONTENT_LENGTH_MISMATCH: "the body was shorter than announced",
  };
  return messages[code] ?? `${code}: ${String(e.message ?? "").slice(0, 200)}`;
}
