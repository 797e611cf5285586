// The API's clock against ours. Windows and reconcile bounds must be planned on the clock that stamps
// lastSeenAt and createdAt, which is the API's: planned on ours, an API 15 minutes behind puts the contacts
// it sees during a sync into a window already closed, and one ahead puts new contacts above reconcile's bound.
//
// Every answer carries a Date header (whole seconds). Its instant lies between our send and receive times;
// one sample is Date + 0.5 s (the middle of its second) minus the middle of our round trip. The estimate is
// the median of the recent samples, so one slow answer or proxy does not move it.
import type { PageAnswer } from "../api/client.js";

/** Samples kept for the median. */
const WINDOW = 31;

export class ClockSkew {
  private readonly samples: number[] = [];
  private first: number | null = null;
  private low = Number.POSITIVE_INFINITY;
  private high = Number.NEGATIVE_INFINITY;

  /** `initial`: the skew measured before (check, or the last run), used until this run has samples. */
  constructor(private readonly initial: number | null = null) {}

  observe(answer: Pick<PageAnswer, "serverDate" | "sentAt" | "receivedAt">): void {
    const sample = skewSample(answer);
    if (sample === null) return;
    this.samples.push(sample);
    if (this.samples.length > WINDOW) this.samples.shift();
    this.first ??= sample;
    this.low = Math.min(this.low, sample);
    this.high = Math.max(this.high, sample);
  }

  /** API minus us (ms): the median of recent samples, else the initial value, else null (unknown). */
  get skewMs(): number | null {
    if (this.samples.length === 0) return this.initial;
    return median(this.samples);
  }

  /** How far the samples of this run spread (ms): a skew that moves by more than a few seconds is worth a warning. */
  get driftMs(): number {
    return this.samples.length < 2 ? 0 : this.high - this.low;
  }

  get sampleCount(): number {
    return this.samples.length;
  }
}

/** The half second a Date header's whole seconds hide: a header names the instant's second, on average +0.5 s. */
export const DATE_TRUNCATION_MS = 500;

/** One answer's API-minus-us sample (ms): its Date header, centred in its second, less the middle of our round trip. */
export function skewSample(answer: Pick<PageAnswer, "serverDate" | "sentAt" | "receivedAt">): number | null {
  if (answer.serverDate === undefined) return null;
  return answer.serverDate + DATE_TRUNCATION_MS - (answer.sentAt + answer.receivedAt) / 2;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * The uncertainty of a skew estimate from Date headers (ms): the header's one-second resolution plus the round
 * trip. Windows are planned this much further from the API's now, so an error in the estimate cannot close a
 * window the API is still stamping into.
 */
export const SKEW_UNCERTAINTY_MS = 2_000;
