// Which lastSeenAt window an incremental run reads. Pure.
//
// The window starts SYNC_LOOKBACK before the checkpoint (re-reading a margin catches contacts whose
// lastSeenAt was written late or with a skewed clock, and makes the API's inclusive-or-not bounds moot) and
// ends SYNC_LAG before now (the newest moments are still being written on their side).

export interface WindowPlan {
  from: Date;
  to: Date;
}

export function planIncrementalWindow(input: {
  syncedUntil: Date | null;
  startAt: Date;
  lookbackMs: number;
  lagMs: number;
  now: Date;
}): WindowPlan | null {
  const from = input.syncedUntil ? new Date(Math.max(input.syncedUntil.getTime() - input.lookbackMs, input.startAt.getTime())) : input.startAt;
  const to = new Date(input.now.getTime() - input.lagMs);
  if (to.getTime() <= from.getTime()) return null;
  return { from, to };
}

export function checkBackfillRange(from: Date, to: Date, now: Date): string | undefined {
  if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime())) return "--from and --to must be ISO-8601 dates, e.g. 2024-01-01T00:00:00Z";
  if (to.getTime() <= from.getTime()) return "--to must be later than --from";
  if (from.getTime() > now.getTime()) return "--from is in the future";
  return undefined;
}
