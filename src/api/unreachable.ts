// An API that cannot be reached at all (nothing listens, the host name does not resolve) is most often a
// wrong INBOX_API_URL, not an outage: say so with the URL, retry DNS failures at most twice and a refused
// connection only for a few seconds (a server restarting), so the run ends within about 15 s by default.
import { ApiError } from "../errors.js";

export type Unreachable = "refused" | "dns";

/** Most retries of a name that does not resolve (a typo does not start resolving by waiting). */
export const DNS_RETRIES = 2;
/** How long a refused connection is retried, counted from the page's first attempt. */
export const REFUSED_PATIENCE_MS = 5_000;
/** Retries are logged at info once a page has been retried for this long (debug before). */
export const QUIET_RETRY_MS = 2_000;

const CODES: Record<string, Unreachable> = {
  ECONNREFUSED: "refused",
  ENOTFOUND: "dns",
  EAI_AGAIN: "dns",
  EAI_NONAME: "dns",
};

/** The ApiError for a network error that means the API cannot be reached, or undefined for other errors. */
export function unreachableError(error: unknown, endpoint: URL): ApiError | undefined {
  const code = String((error as { code?: unknown })?.code ?? "");
  const what = CODES[code];
  if (!what) return undefined;
  const port = endpoint.port || (endpoint.protocol === "https:" ? "443" : "80");
  const message = what === "dns"
    ? `The inbox API's host name "${endpoint.hostname}" does not resolve (DNS failure, ${code}) for ${endpoint.origin}: check INBOX_API_URL.`
    : `The inbox API at ${endpoint.origin} refused the connection (nothing listens on port ${port}, ${code}): check INBOX_API_URL, and that the server is running.`;
  return new ApiError("transient", message, { unreachable: what });
}

/** Whether to stop retrying an unreachable API now (attemptNumber counts from 1). */
export function giveUpOnUnreachable(error: ApiError, attemptNumber: number, sinceFirstAttemptMs: number): boolean {
  if (error.details.unreachable === "dns") return attemptNumber > DNS_RETRIES;
  if (error.details.unreachable === "refused") return sinceFirstAttemptMs >= REFUSED_PATIENCE_MS;
  return false;
}
