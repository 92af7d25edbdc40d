import type { MinutePoint } from './series.js';
import { estimateTimeToBreach, median, theilSenSlope, type BreachEstimate, type SeriesPoint } from './time-to-breach.js';

/** Minutes of history a prediction reads. */
export const LOOKBACK_MINUTES = 30;
/** Minutes the lag and depth trends are fitted over. */
export const TREND_MINUTES = 10;
/** Minutes the failure and partner-latency rates are averaged over. */
const RECENT_MINUTES = 5;
/** Minimum minutes with lag a key needs before it gets a prediction. */
export const MIN_HISTORY_MINUTES = 5;
/** Minutes in a row a queue must be stalled before the stall counts, so a consumer's short pause does not. */
const STALL_MINUTES = 2;
/** Lag rise, in seconds a minute, that a stall must show; a full stall adds 60. */
const STALL_MIN_LAG_RISE_PER_MINUTE = 30;
/** Credentials further away than this from expiry do not count as an indicator. */
const CREDENTIAL_WATCH_SECONDS = 86_400;

/** Names of the model inputs, in the order of `FeatureVector.values`. */
export const FEATURE_NAMES = [
  'lag_ratio',
  'projected_lag_ratio',
  'lag_trend',
  'breach_within_horizon',
  'wait_ratio',
  'net_inflow',
  'depth_trend',
  'consumer_drop',
  'stuck',
  'failure_rate',
  'failure_trend',
  'dead_letter_growth',
  'partner_latency_trend',
  'credential_pressure',
  'source_down_share',
] as const;
export type FeatureName = (typeof FEATURE_NAMES)[number];

/** An indicator that drove a prediction, in words and its measured value. */
export interface Indicator {
  name: string;
  value: number;
  description: string;
}

/** Model inputs of one key at one minute, each scaled to be comparable across workflows. */
export interface FeatureVector {
  values: number[];
  /** Measured indicators in their own units, for the explanation. */
  indicators: Indicator[];
  lagSeconds: number | null;
  breach: BreachEstimate | null;
}

/**
 * Computes the model inputs from the minutes up to and including `nowMs`
 * (epoch milliseconds), or returns null when fewer than
 * `MIN_HISTORY_MINUTES` minutes of lag are known in the lookback window.
 * `points` must be ordered by minute.
 */
export function computeFeatures(
  points: readonly MinutePoint[],
  nowMs: number,
  objectiveSeconds: number,
  horizonSeconds: number,
): FeatureVector | null {
  const window = points.filter((point) => point.minuteMs <= nowMs && point.minuteMs > nowMs - LOOKBACK_MINUTES * 60_000);
  const withLag = window.filter((point) => point.lagSeconds !== null);
  if (withLag.length < MIN_HISTORY_MINUTES) return null;
  const latest = withLag.at(-1)!;
  const recent = window.filter((point) => point.minuteMs > nowMs - RECENT_MINUTES * 60_000);
  const trendWindow = window.filter((point) => point.minuteMs > nowMs - TREND_MINUTES * 60_000);
  const horizonMinutes = horizonSeconds / 60;
  const lag = latest.lagSeconds ?? 0;

  const lagSlope = theilSenSlope(toSeries(trendWindow, nowMs, (point) => point.lagSeconds)) ?? 0;
  const projectedLag = lag + Math.max(0, lagSlope) * horizonMinutes;

  const inflowPerMinute = averageOf(recent, (point) => point.inflowPerSecond) * 60;
  const outflowPerMinute = averageOf(recent, (point) => point.outflowPerSecond) * 60;
  const depth = latest.depth ?? 0;
  const scale = Math.max(inflowPerMinute, 1);
  // The wait of a message arriving now, by Little's law. Unknown when the source reports no outflow.
  const outflowKnown = recent.some((point) => point.outflowPerSecond !== null);
  let waitSeconds = 0;
  if (depth >= 1 && outflowKnown) {
    waitSeconds = outflowPerMinute > 0 ? (depth / outflowPerMinute) * 60 : 10 * objectiveSeconds;
  }
  const depthSlope = theilSenSlope(toSeries(trendWindow, nowMs, (point) => point.depth)) ?? 0;

  const consumersNow = latest.consumers;
  const consumersMax = maxOf(window, (point) => point.consumers);
  const consumerDrop = consumersNow === null || consumersMax === null || consumersMax === 0 ? 0 : (consumersMax - consumersNow) / consumersMax;

  const failuresPerMinute = sumOf(recent, (point) => point.failures) / RECENT_MINUTES;
  const failureSlope = theilSenSlope(toSeries(window, nowMs, (point) => point.failures)) ?? 0;
  const deadLetters = latest.failed ?? 0;
  const deadLettersBefore = trendWindow.find((point) => point.failed !== null)?.failed ?? deadLetters;
  const deadLetterGrowthPerMinute = Math.max(0, deadLetters - deadLettersBefore) / TREND_MINUTES;

  const latencyNow = averageOf(recent, (point) => point.partnerLatencyMs);
  const latencies = window.map((point) => point.partnerLatencyMs).filter((value): value is number => value !== null && value > 0);
  const latencyBaseline = latencies.length > 0 ? median(latencies) : 0;
  const latencyTrend = latencyNow > 0 && latencyBaseline > 0 ? Math.log(latencyNow / latencyBaseline) : 0;

  const credentialDays = latest.credentialDaysLeft ?? minOf(window, (point) => point.credentialDaysLeft);
  const credentialSeconds = credentialDays === null ? null : credentialDays * 86_400;
  const watchedCredentialSeconds = credentialSeconds !== null && credentialSeconds < CREDENTIAL_WATCH_SECONDS ? credentialSeconds : null;
  const credentialPressure = watchedCredentialSeconds === null ? 0 : clamp(1 - watchedCredentialSeconds / (horizonSeconds + objectiveSeconds), 0, 1);

  const stallWindow = window.slice(-STALL_MINUTES);
  const stallLagRise = (stallWindow.at(-1)?.lagSeconds ?? 0) - (stallWindow[0]?.lagSeconds ?? 0);
  // A stalled queue's oldest message ages a second per second, so a lag that does not climb means a pause, not a stall.
  const stalled =
    stallWindow.length === STALL_MINUTES &&
    stallWindow.every(isStalled) &&
    stallLagRise >= STALL_MIN_LAG_RISE_PER_MINUTE * (STALL_MINUTES - 1);
  const breach = estimateTimeToBreach({
    objectiveSeconds,
    lagSeconds: latest.lagSeconds,
    lagSlopePerMinute: lagSlope,
    stalled,
    credentialSecondsLeft: watchedCredentialSeconds,
  });
  const breachSoon = breach === null ? 0 : clamp(1 - breach.seconds / (2 * horizonSeconds), 0, 1);
  const sourceDownShare = averageOf(recent, (point) => point.sourceDownShare);
  const stuck = latest.stuck ?? 0;

  const values: Record<FeatureName, number> = {
    lag_ratio: clamp(lag / objectiveSeconds, 0, 3),
    projected_lag_ratio: clamp(projectedLag / objectiveSeconds, 0, 3),
    lag_trend: clamp((lagSlope * horizonMinutes) / objectiveSeconds, -3, 3),
    breach_within_horizon: breachSoon,
    wait_ratio: clamp(waitSeconds / objectiveSeconds, 0, 3),
    net_inflow: clamp((inflowPerMinute - outflowPerMinute) / scale, -1, 1),
    depth_trend: clamp((depthSlope * horizonMinutes) / Math.max(scale * (objectiveSeconds / 60), 1), -3, 3),
    consumer_drop: clamp(consumerDrop, 0, 1),
    stuck: clamp(stuck / Math.max(depth, 1), 0, 1),
    failure_rate: clamp(failuresPerMinute / scale, 0, 3),
    failure_trend: clamp((failureSlope * horizonMinutes) / scale, -3, 3),
    dead_letter_growth: clamp(deadLetterGrowthPerMinute / scale, 0, 1),
    partner_latency_trend: clamp(latencyTrend, -2, 3),
    credential_pressure: credentialPressure,
    source_down_share: clamp(sourceDownShare, 0, 1),
  };

  const indicators: Indicator[] = [
    { name: 'lag_seconds', value: round(lag), description: `lag ${formatSeconds(lag)} of a ${formatSeconds(objectiveSeconds)} objective` },
    { name: 'lag_slope_seconds_per_minute', value: round(lagSlope), description: `lag ${lagSlope >= 0 ? 'growing' : 'falling'} ${Math.abs(round(lagSlope))} s a minute` },
    { name: 'expected_wait_seconds', value: round(waitSeconds), description: `a message arriving now waits about ${formatSeconds(waitSeconds)} (depth ${Math.round(depth)} at ${round(outflowPerMinute)} a minute drained)` },
    { name: 'net_inflow_per_minute', value: round(inflowPerMinute - outflowPerMinute), description: `queue ${inflowPerMinute > outflowPerMinute ? 'growing' : 'draining'}: ${round(inflowPerMinute)} in, ${round(outflowPerMinute)} out a minute` },
    { name: 'consumers_lost', value: consumersMax === null || consumersNow === null ? 0 : round(consumersMax - consumersNow), description: `${consumersNow === null ? 'unknown' : round(consumersNow)} consumers, ${consumersMax === null ? 'unknown' : round(consumersMax)} at most in the last ${LOOKBACK_MINUTES} min` },
    { name: 'stuck_messages', value: stuck, description: `${stuck} messages held by consumers that stopped making progress` },
    { name: 'failures_per_minute', value: round(failuresPerMinute), description: `${round(failuresPerMinute)} failed attempts a minute, trend ${round(failureSlope)} a minute per minute` },
    { name: 'dead_letters_per_minute', value: round(deadLetterGrowthPerMinute), description: `dead-letter queue growing ${round(deadLetterGrowthPerMinute)} a minute (${Math.round(deadLetters)} in it)` },
    { name: 'partner_latency_ratio', value: round(Math.exp(latencyTrend)), description: `partner responds in ${Math.round(latencyNow)} ms, ${round(Math.exp(latencyTrend))}x its ${LOOKBACK_MINUTES}-minute median` },
    { name: 'source_down_share', value: round(sourceDownShare), description: `${Math.round(sourceDownShare * 100)}% of recent polls could not read the source` },
  ];
  if (watchedCredentialSeconds !== null) {
    indicators.push({ name: 'credential_seconds_left', value: Math.round(watchedCredentialSeconds), description: watchedCredentialSeconds > 0 ? `credential expires in ${formatSeconds(watchedCredentialSeconds)}` : `credential expired ${formatSeconds(-watchedCredentialSeconds)} ago` });
  }
  return { values: FEATURE_NAMES.map((name) => values[name]), indicators, lagSeconds: latest.lagSeconds, breach };
}

/**
 * Returns true when messages wait and nothing drains them: no consumer
 * attached on average, or a known outflow below 5% of the inflow. An
 * outflow the source does not report never counts as zero.
 */
function isStalled(point: MinutePoint): boolean {
  if (point.depth === null || point.depth < 1) return false;
  if (point.consumers !== null && point.consumers < 0.5) return true;
  if (point.outflowPerSecond === null) return false;
  return point.outflowPerSecond < 0.05 * Math.max(point.inflowPerSecond ?? 0, 1 / 60);
}

function toSeries(points: readonly MinutePoint[], nowMs: number, pick: (point: MinutePoint) => number | null): SeriesPoint[] {
  const series: SeriesPoint[] = [];
  for (const point of points) {
    const value = pick(point);
    if (value !== null) series.push({ x: (point.minuteMs - nowMs) / 60_000, y: value });
  }
  return series;
}

function averageOf(points: readonly MinutePoint[], pick: (point: MinutePoint) => number | null): number {
  const values = points.map(pick).filter((value): value is number => value !== null);
  return values.length === 0 ? 0 : values.reduce((sum, value) => sum + value, 0) / values.length;
}

function sumOf(points: readonly MinutePoint[], pick: (point: MinutePoint) => number): number {
  return points.reduce((sum, point) => sum + pick(point), 0);
}

function maxOf(points: readonly MinutePoint[], pick: (point: MinutePoint) => number | null): number | null {
  const values = points.map(pick).filter((value): value is number => value !== null);
  return values.length === 0 ? null : Math.max(...values);
}

function minOf(points: readonly MinutePoint[], pick: (point: MinutePoint) => number | null): number | null {
  const values = points.map(pick).filter((value): value is number => value !== null);
  return values.length === 0 ? null : Math.min(...values);
}

function clamp(value: number, low: number, high: number): number {
  if (!Number.isFinite(value)) return value > 0 ? high : low;
  return Math.min(high, Math.max(low, value));
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

/** Formats seconds as `45 s`, `12.5 min` or `3.2 h`. */
export function formatSeconds(seconds: number): string {
  const absolute = Math.abs(seconds);
  if (absolute < 120) return `${Math.round(seconds)} s`;
  if (absolute < 7_200) return `${round(seconds / 60)} min`;
  return `${round(seconds / 3_600)} h`;
}
