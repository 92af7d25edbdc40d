/**
 * Timing of source polls: jitter around each source's interval, so that many
 * sources with one interval do not fire together, and exponential backoff for
 * a source whose polls keep failing.
 */

/** Each delay between polls is the interval times a random factor in [1 - ratio, 1 + ratio]. */
export const POLL_JITTER_RATIO = 0.1;

/** Factor by which the delay grows with each consecutive failed poll. */
export const BACKOFF_MULTIPLIER = 2;

/** Maximum delay between polls of a failing source, in milliseconds, unless its interval is longer. */
export const MAX_BACKOFF_MS = 5 * 60 * 1000;

/** Source of random numbers in [0, 1), replaceable in tests. */
export type RandomFunction = () => number;

/** Returns `delayMs` moved by a random amount of up to `ratio` of it, either way. */
export function addJitter(delayMs: number, ratio: number, random: RandomFunction): number {
  if (ratio <= 0) return delayMs;
  const factor = 1 + ratio * (2 * random() - 1);
  return Math.max(0, Math.round(delayMs * factor));
}

/**
 * Returns the delay before the first poll of a source: a random point in its
 * first interval, so that sources started together spread out.
 */
export function computeFirstPollDelayMs(intervalMs: number, random: RandomFunction): number {
  return Math.floor(intervalMs * random());
}

/**
 * Returns the delay, before jitter, between the start of a poll and the start
 * of the next one. With no failures it is the interval. After `failures`
 * consecutive failed polls it is the interval times
 * `BACKOFF_MULTIPLIER ** failures`, capped at `maxBackoffMs` or at the
 * interval when that is longer, so backoff never polls more often than the
 * interval.
 */
export function computeBaseDelayMs(intervalMs: number, failures: number, maxBackoffMs: number): number {
  if (failures <= 0) return intervalMs;
  const capMs = Math.max(intervalMs, maxBackoffMs);
  // Past about 60 doublings the product overflows to Infinity, which the cap handles.
  return Math.min(capMs, intervalMs * BACKOFF_MULTIPLIER ** failures);
}
