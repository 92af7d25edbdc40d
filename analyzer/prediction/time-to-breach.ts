/** A point of a time series: `x` in minutes, `y` in the series' unit. */
export interface SeriesPoint {
  x: number;
  y: number;
}

/**
 * Returns the Theil-Sen slope of the points: the median of the slopes between
 * every pair with distinct `x`. Unlike least squares it ignores up to about
 * 29% of outliers, such as one poll that caught a spike. Returns null for
 * fewer than two distinct `x` values.
 */
export function theilSenSlope(points: readonly SeriesPoint[]): number | null {
  const slopes: number[] = [];
  for (let i = 0; i < points.length; i += 1) {
    for (let j = i + 1; j < points.length; j += 1) {
      const a = points[i]!;
      const b = points[j]!;
      if (a.x !== b.x) slopes.push((b.y - a.y) / (b.x - a.x));
    }
  }
  return slopes.length === 0 ? null : median(slopes);
}

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('invalid median input: expected at least one value, got none');
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Lag can grow by at most one second per second, so a fitted slope above this is noise. */
export const MAX_LAG_GROWTH_SECONDS_PER_MINUTE = 60;

/** One way the workflow may reach its objective, and when. */
export interface BreachEstimate {
  /** Seconds from now until lag reaches the objective; 0 when it already has. */
  seconds: number;
  /** Extrapolated signal, such as `lag trend`. */
  basis: 'lag already at objective' | 'lag trend' | 'stalled queue' | 'credential expiry';
}

export interface TimeToBreachInput {
  objectiveSeconds: number;
  /** Latest lag, in seconds. */
  lagSeconds: number | null;
  /** Lag slope in seconds per minute, such as `theilSenSlope` of the recent lag. */
  lagSlopePerMinute: number | null;
  /** True when messages wait and nothing drains them. */
  stalled: boolean;
  /** Seconds until the integration's credential expires, null when unknown. */
  credentialSecondsLeft: number | null;
}

/**
 * Estimates the time until the workflow's lag reaches its objective as the
 * earliest of three extrapolations: the recent lag trend, a stalled queue
 * whose oldest message ages one second per second, and an expiring
 * credential after which nothing drains. Returns null when none of them
 * points at a breach.
 */
export function estimateTimeToBreach(input: TimeToBreachInput): BreachEstimate | null {
  const { objectiveSeconds } = input;
  if (!(objectiveSeconds > 0)) {
    throw new RangeError(`invalid objective ${objectiveSeconds} s: expected a positive number of seconds`);
  }
  const lag = input.lagSeconds ?? 0;
  if (input.lagSeconds !== null && lag >= objectiveSeconds) return { seconds: 0, basis: 'lag already at objective' };

  const estimates: BreachEstimate[] = [];
  const slope = input.lagSlopePerMinute;
  if (input.lagSeconds !== null && slope !== null && slope > 0) {
    const perMinute = Math.min(slope, MAX_LAG_GROWTH_SECONDS_PER_MINUTE);
    estimates.push({ seconds: ((objectiveSeconds - lag) / perMinute) * 60, basis: 'lag trend' });
  }
  if (input.stalled) {
    estimates.push({ seconds: objectiveSeconds - lag, basis: 'stalled queue' });
  }
  if (input.credentialSecondsLeft !== null) {
    // After expiry every call fails, so the oldest message ages from then on.
    estimates.push({ seconds: Math.max(0, input.credentialSecondsLeft) + objectiveSeconds - lag, basis: 'credential expiry' });
  }
  if (estimates.length === 0) return null;
  return estimates.reduce((earliest, estimate) => (estimate.seconds < earliest.seconds ? estimate : earliest));
}
