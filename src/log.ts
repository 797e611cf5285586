// One logger for the whole process. Secrets are kept out twice: known fields are redacted by path, and
// every line is scrubbed of the token's literal text before it is written (whatever field it hid in).
import pino, { type Logger, type DestinationStream } from "pino";

export type { Logger };

const REDACT_PATHS = [
  "token", "*.token", "authorization", "*.authorization", "headers.authorization", "*.headers.authorization",
  "req.headers.authorization", "config.token", "databaseUrl", "*.databaseUrl",
];

const secrets = new Set<string>();

/** Registers a secret (the API token, a database password) to be scrubbed from every log line. */
export function registerSecret(secret: string | undefined): void {
  if (secret && secret.length >= 4) secrets.add(secret);
}

/** The text with every registered secret replaced; used for logs and for messages shown to users. */
export function scrub(text: string): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join("[REDACTED]");
  return out;
}

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: "contacts-sync" },
      redact: { paths: REDACT_PATHS, censor: "[REDACTED]" },
      timestamp: pino.stdTimeFunctions.isoTime,
      hooks: { streamWrite: scrub },
    },
    destination ?? pino.destination({ dest: 2, sync: true }),
  );
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
