// The one rule for a record's timestamp, as encodeBatch and the producer take
// it: milliseconds since the epoch as an integer or a decimal string of one,
// from -1 ("no timestamp") to the last instant a Date can hold.

/** The largest instant a Date can hold, in ms. */
export const MAX_DATE_MS = 8.64e15;
const DECIMAL = /^-?\d+$/;

/**
 * The timestamp, in ms, of a record given `timestamp`; `now` when it gives
 * none (undefined or null); NaN when it breaks the rule (the caller throws,
 * with its own message).
 */
export function recordTimestamp(timestamp: unknown, now: number): number {
  if (timestamp === undefined || timestamp === null) return now;
  const ms = typeof timestamp === 'string' && DECIMAL.test(timestamp) ? Number(timestamp) : timestamp;
  if (typeof ms === 'number' && Number.isInteger(ms) && ms >= -1 && ms <= MAX_DATE_MS) return ms;
  return NaN;
}
