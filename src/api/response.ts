// Turns one HTTP answer of /inbox/users into rows, or into an ApiError of the right kind. Pure: the
// client (client.ts) does the I/O and the retrying; this file decides what an answer means.
import { ApiError } from "../errors.js";

export type RawContact = Record<string, unknown> & { _id: string };

export interface HttpAnswer {
  status: number;
  contentType: string;
  body: string;
  retryAfter?: string | undefined;
}

const AUTH_HINT =
  "The API refused the token. Check INBOX_API_TOKEN (or INBOX_API_TOKEN_FILE): the key may be wrong, " +
  "revoked or replaced (BotPenguin keeps one key per account; generating a new one revokes the old), or " +
  "INBOX_API_URL may point at another brand's API.";

/** Seconds or an HTTP date, as Retry-After allows; undefined when absent or unusable. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

function serverMessages(json: unknown): string[] {
  if (typeof json !== "object" || json === null) return [];
  const wrapper = json as { message?: unknown; data?: unknown };
  const out: string[] = [];
  if (typeof wrapper.message === "string" && wrapper.message) out.push(wrapper.message);
  if (Array.isArray(wrapper.data)) for (const m of wrapper.data) if (typeof m === "string") out.push(m);
  return out.map((m) => m.slice(0, 300));
}

function tryJson(body: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(body) };
  } catch {
    return { ok: false };
  }
}

function describeBody(answer: HttpAnswer): string {
  if (/html/i.test(answer.contentType) || /^\s*</.test(answer.body)) {
    const title = /<title>([^<]{0,120})<\/title>/i.exec(answer.body)?.[1]?.trim();
    return `an HTML page${title ? ` ("${title}")` : ""}`;
  }
  if (answer.body.length === 0) return "an empty body";
  return `${answer.body.length} bytes that are not valid JSON (truncated or garbled)`;
}

export function interpretAnswer(answer: HttpAnswer, now = Date.now()): RawContact[] {
  const { status } = answer;
  const parsed = tryJson(answer.body);
  const messages = parsed.ok ? serverMessages(parsed.value) : [];
  const said = messages.length > 0 ? ` The API said: ${messages.join("; ")}.` : "";

  if (status === 401 || status === 403) {
    throw new ApiError("auth", `The inbox API answered ${status}.${said} ${AUTH_HINT}`, { status, serverMessages: messages });
  }
  if (status === 408 || status === 425 || status === 429 || status >= 500) {
    const retryAfterMs = parseRetryAfter(answer.retryAfter, now);
    const what = parsed.ok ? "" : ` with ${describeBody(answer)}`;
    throw new ApiError("transient", `The inbox API answered ${status}${what}.${said}`, { status, retryAfterMs, serverMessages: messages });
  }
  if (status < 200 || status >= 300) {
    throw new ApiError(
      "request",
      `The inbox API refused the request with ${status}.${said} Retrying cannot help: check INBOX_API_URL ` +
        `(it should be the API's base, e.g. https://api.v7.botpenguin.com) and INBOX_FILTERS.`,
      { status, serverMessages: messages },
    );
  }
  if (!parsed.ok) {
    // A 200 that is not JSON: a proxy's page or a cut-off body. Usually passing, so retried.
    throw new ApiError("transient", `The inbox API answered ${status} with ${describeBody(answer)} instead of JSON.`, { status });
  }
  return extractRows(parsed.value, status);
}

function extractRows(json: unknown, status: number): RawContact[] {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new ApiError("shape", `The inbox API answered ${status} with JSON that is not the expected {success, data} wrapper. Nothing was written.`, { status });
  }
  const wrapper = json as { success?: unknown; code?: unknown; data?: unknown };
  if (wrapper.success === false) {
    const messages = serverMessages(json);
    const code = typeof wrapper.code === "number" ? wrapper.code : undefined;
    const said = messages.length > 0 ? ` The API said: ${messages.join("; ")}.` : "";
    if (code === 401 || code === 403) {
      throw new ApiError("auth", `The inbox API reported failure (code ${code}).${said} ${AUTH_HINT}`, { status, serverMessages: messages });
    }
    if (code !== undefined && (code === 429 || code >= 500)) {
      throw new ApiError("transient", `The inbox API reported failure (code ${code}).${said}`, { status, serverMessages: messages });
    }
    throw new ApiError("request", `The inbox API reported failure${code ? ` (code ${code})` : ""}.${said} Nothing was written.`, { status, serverMessages: messages });
  }
  if (!Array.isArray(wrapper.data)) {
    const got = wrapper.data === undefined ? "no data field" : wrapper.data === null ? "data: null" : `data as ${typeof wrapper.data}`;
    throw new ApiError("shape", `The inbox API answered ${status} with ${got}, where a list of contacts was expected. Nothing was written; the checkpoint is unchanged.`, { status });
  }
  wrapper.data.forEach((row, index) => {
    if (typeof row !== "object" || row === null || Array.isArray(row)) {
      throw new ApiError("shape", `Contact #${index + 1} of the page is not an object. Nothing of this page was written; the checkpoint is unchanged.`, { status });
    }
    const id = (row as { _id?: unknown })._id;
    if (typeof id !== "string" || id.length === 0 || id.length > 200) {
      throw new ApiError(
        "shape",
        `Contact #${index + 1} of the page has ${id === undefined ? "no _id" : `an _id that is not a usable string (${typeof id})`}. ` +
          `Nothing of this page was written; the checkpoint is unchanged.`,
        { status },
      );
    }
  });
  return wrapper.data as RawContact[];
}
