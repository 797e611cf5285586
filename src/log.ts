// One logger for the whole process. Secrets are kept out twice: known fields are redacted by path, and
// every line is scrubbed before it is written (whatever field they hid in): of the token's literal text, and
// of the password of any URL. A database password is scrubbed where it appears as one (in a URL), not as a
// word: a short password such as "contacts-sync" would otherwise blank out ordinary text.
import pino, { type Logger, type DestinationStream } from "pino";
import { prettyFactory } from "pino-pretty";

export type { Logger };

const REDACT_PATHS = [
  "token", "*.token", "authorization", "*.authorization", "headers.authorization", "*.headers.authorization",
  "req.headers.authorization", "config.token", "databaseUrl", "*.databaseUrl",
];

const secrets = new Set<string>();

/** Registers a secret (the API token) whose literal text is scrubbed from every log line and message. */
export function registerSecret(secret: string | undefined): void {
  if (secret && secret.length >= 4) secrets.add(secret);
}

/** scheme://user:PASSWORD@host: the password part of a URL with credentials. */
const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@"'?#]*:)([^\s@/"']+)(@)/gi;

/** The text with every registered secret and every URL password replaced; for logs and messages to users. */
export function scrub(text: string): string {
  // A password already masked (describeDatabaseUrl's ****), or the placeholder of an example URL, stays.
  let out = text.replace(URL_PASSWORD, (whole, head: string, password: string, at: string) =>
    /^(\*+|\[REDACTED\]|password)$/i.test(password) ? whole : `${head}[REDACTED]${at}`);
  for (const secret of secrets) out = out.split(secret).join("[REDACTED]");
  return out;
}

/** The live line kept under the logs on a terminal (a pass's progress), if any. */
let statusLine: string | undefined;

/**
 * Shows `text` as the one live line at the bottom of the terminal (stderr), replacing the last one;
 * undefined removes it. Log lines are written above it, so neither garbles the other.
 */
export function showStatusLine(text: string | undefined): void {
  process.stderr.write(`\r\x1b[2K${text ?? ""}`);
  statusLine = text;
}

/** A log line for stderr, moved above the live line when there is one. */
function aboveStatusLine(write: (line: string) => void): (line: string) => void {
  return (line) => {
    if (statusLine === undefined) return write(line);
    process.stderr.write("\r\x1b[2K");
    write(line);
    process.stderr.write(statusLine);
  };
}

/** "auto": pretty when the log stream (stderr) is a terminal, JSON lines otherwise (LOG_FORMAT). */
export type LogFormat = "auto" | "json" | "pretty";

export function createLogger(level: string, destination?: DestinationStream, format: LogFormat = "auto"): Logger {
  const pretty = destination === undefined && (format === "pretty" || (format === "auto" && process.stderr.isTTY === true));
  return pino(
    {
      level,
      base: { service: "contacts-sync" },
      redact: { paths: REDACT_PATHS, censor: "[REDACTED]" },
      timestamp: pino.stdTimeFunctions.isoTime,
      hooks: { streamWrite: scrub },
    },
    destination ?? (pretty ? prettyDestination() : jsonDestination()),
  );
}

/**
 * Human-readable lines for a terminal. Formatted in-process and written synchronously (not through a
 * transport thread), so the last lines before an exit are never lost; the lines it receives are already
 * redacted and scrubbed.
 */
function prettyDestination(): DestinationStream {
  // One line per entry: a run record or a migration is one line on a terminal, not twenty.
  const format = prettyFactory({
    translateTime: "SYS:HH:MM:ss.l",
    ignore: "pid,hostname,service",
    singleLine: true,
    colorize: process.env.NO_COLOR === undefined || process.env.NO_COLOR === "",
  });
  const out = pino.destination({ dest: 2, sync: true });
  return { write: aboveStatusLine((line: string) => void out.write(format(line))) };
}

function jsonDestination(): DestinationStream {
  const out = pino.destination({ dest: 2, sync: true });
  return process.stderr.isTTY ? { write: aboveStatusLine((line: string) => void out.write(line)) } : out;
}

/** A database URL safe to print: the password replaced. */
export function describeDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "****";
    return parsed.toString();
  } catch {
    return "(unparsable database URL)";
  }
}
