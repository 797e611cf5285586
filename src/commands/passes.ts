// `sync`, `reconcile` and `backfill`: one pass each, with progress while it runs and one summary at the end
// (text, or JSON with --json) on stdout.
import { openApp, createClient } from "../app.js";
import { ConfigError } from "../errors.js";
import { Progress } from "../progress.js";
import { runBackfill, runIncremental, runReconcile, type RunSummary } from "../sync/runPass.js";
import { checkBackfillRange } from "../sync/windows.js";
import { onShutdown } from "../signals.js";
import { parseUserInstant } from "../time.js";
import { remapContacts } from "../db/sql/remapContacts.js";

/** After a sync or reconcile, at most this long is spent re-deriving rows an older mapping wrote. */
const CLI_REMAP_SLICE_MS = 10_000;
import type { CommandContext } from "./table.js";

export async function passCommand(name: "sync" | "reconcile" | "backfill", { values, config, logger, out }: CommandContext): Promise<number> {
  let range: { from: Date; to: Date } | undefined;
  if (name === "backfill") {
    if (typeof values.from !== "string" || typeof values.to !== "string") throw new ConfigError(["backfill needs --from <ISO date> and --to <ISO date>"]);
    const from = parseUserInstant(values.from);
    const to = parseUserInstant(values.to);
    if (!from || !to) throw new ConfigError(["--from and --to must be ISO-8601 dates, e.g. 2024-01-01 or 2024-01-01T00:00:00Z (a time needs a zone, and the date must exist)"]);
    range = { from, to };
    const problem = checkBackfillRange(range.from, range.to, new Date());
    if (problem) throw new ConfigError([problem]);
  }
  const app = await openApp(config, logger);
  const shutdown = new AbortController();
  const unsubscribe = onShutdown(logger, () => shutdown.abort());
  const client = createClient(config, logger);
  let progress: Progress | undefined;
  try {
    const expected = name === "reconcile" ? await liveContacts(app.db.pool, config.account) : undefined;
    progress = values.quiet
      ? undefined
      : new Progress({
          http: client,
          logger,
          terminal: process.stderr.isTTY ? process.stderr : undefined,
          intervalMs: config.progressIntervalMs,
          concurrency: config.concurrency,
          color: !process.env.NO_COLOR,
          expected,
        }).start();
    const ctx = { db: app.db, client, config, logger, signal: shutdown.signal, onPage: progress?.onPage, onConcurrency: progress?.onConcurrency };
    let summary: RunSummary;
    try {
      if (name === "sync") summary = await runIncremental(ctx);
      else if (name === "reconcile") summary = await runReconcile(ctx, { allowMassDelete: values["allow-mass-delete"] === true });
      else summary = await runBackfill(ctx, range!);
    } catch (error) {
      // A failed or stopped run still has its figures: --json prints them too, the message goes to stderr.
      progress?.stop();
      const partial = (error as { summary?: RunSummary }).summary;
      if (values.json && partial) out(JSON.stringify(summaryJson(partial), null, 2));
      throw error;
    }
    progress?.stop();
    out(values.json ? JSON.stringify(summaryJson(summary), null, 2) : formatSummary(summary));
    // Rows an older mapping wrote are re-derived a slice at a time after a pass, as the worker does (never fails the run).
    if (name !== "backfill" && !shutdown.signal.aborted) {
      await remapContacts(app.db, config.account, logger, { budgetMs: CLI_REMAP_SLICE_MS, signal: shutdown.signal }).catch((error: unknown) =>
        logger.warn({ reason: error instanceof Error ? error.message : String(error) }, "re-deriving typed columns failed; `contacts-sync remap` finishes it"));
    }
    return 0;
  } finally {
    progress?.stop();
    await client.close();
    unsubscribe();
    await app.close();
  }
}

async function liveContacts(pool: import("pg").Pool, account: string): Promise<number> {
  const { rows } = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM contacts WHERE account = $1 AND deleted_at IS NULL", [account]);
  return rows[0]?.n ?? 0;
}

/** Rows received more than once in this run: each request starts at the createdAt of the last row before. */
export function reReadRows(s: RunSummary): number {
  return Math.max(0, s.received - s.inserted - s.updated - s.unchanged);
}

/** The run as JSON: the figures of its sync_runs row, plus what the text summary explains. */
export function summaryJson(s: RunSummary): Record<string, unknown> {
  const { runId, ...rest } = s;
  return { runId: String(runId), ...rest, written: s.inserted + s.updated, reRead: reReadRows(s) };
}

/**
 * Received = rows the API sent; written = contacts inserted or changed; unchanged = already mirrored as
 * they are (not rewritten); re-read = rows received twice in this run (pages overlap by design).
 */
export function formatSummary(s: RunSummary): string {
  const lines = [
    `${s.kind}: ${s.status} in ${(s.durationMs / 1000).toFixed(1)} s; requests ${s.requests}, pages ${s.pages}, ` +
      `received ${s.received}, inserted ${s.inserted}, updated ${s.updated}, unchanged ${s.unchanged}` +
      `${s.kind === "reconcile" ? `, marked deleted ${s.deleted}` : ""}${s.restored ? `, restored ${s.restored}` : ""}`,
    `  received = rows the API sent (${s.received}); written = contacts new or changed (${s.inserted + s.updated}); ` +
      `unchanged = already mirrored as they are (${s.unchanged}); re-read = rows sent twice in this run (${reReadRows(s)}): ` +
      "each page starts at the last createdAt of the one before, so rows sharing it come again",
  ];
  if (s.retries > 0) lines.push(`  retries: ${s.retries} (429s and passing failures, retried with backoff)`);
  return lines.join("\n");
}
