// Every error the product raises on purpose says what happened, what was kept safe, and what to do next.
// The CLI prints `message` (and `hint`) and exits non-zero; nothing else about an error is shown to users.

export class ConfigError extends Error {
  override name = "ConfigError";
  constructor(readonly problems: string[]) {
    super(
      `Configuration is invalid; nothing was requested or written.\n` +
        problems.map((p) => `  - ${p}`).join("\n") +
        `\nFix these settings (environment or .env) and run again; the README lists every setting.`,
    );
  }
}

/** The kinds of API failure, each with its own handling: only `transient` is retried. */
export type ApiErrorKind =
  | "auth" // 401/403: the token is wrong, revoked or lacks rights
  | "request" // 400/404/405/...: the API refused what we sent; retrying cannot help
  | "transient" // 429, 5xx, resets, timeouts, truncated or unparsable bodies
  | "shape"; // a well-formed answer of a shape we do not understand

export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    readonly kind: ApiErrorKind,
    message: string,
    readonly details: { status?: number; retryAfterMs?: number; serverMessages?: string[]; unreachable?: "refused" | "dns" } = {},
  ) {
    super(message);
  }
}

/** The API answered, but not as the sync's design assumes (window ignored, order changed...). */
export class ContractError extends Error {
  override name = "ContractError";
}

/**
 * A page contradicts what was measured of the API (its order, or how it applies a range): the sync measures the
 * API again and retries the pass once before it gives up. Nothing of the page was written.
 */
export class ContradictionError extends ContractError {
  override name = "ContradictionError";
}

/** A run was stopped on request (signal); what was committed stays committed. */
export class StoppedError extends Error {
  override name = "StoppedError";
  constructor() {
    super("Stopped on request; every page written so far is committed with its checkpoint.");
  }
}

/**
 * Another process holds the account's lock, and this one was asked not to wait (the worker with ACCOUNTS_FILE:
 * it moves on to the next account due). Nothing was requested or written; not a failure.
 */
export class AccountBusyError extends Error {
  override name = "AccountBusyError";
  constructor(readonly account: string) {
    super(`account ${account} is being synced by another contacts-sync process; skipped this time`);
  }
}
