import type { AlertEvent, AlertSeverity } from '../../alerts/alert.js';
import { computeFeatures, FEATURE_NAMES, formatSeconds, LOOKBACK_MINUTES, type FeatureName, type Indicator } from './features.js';
import type { BreachModel } from './model.js';
import type { KeyedSeries, SeriesKey } from './series.js';

/** One key's prediction at one time, as stored in `predictions`. */
export interface Prediction extends SeriesKey {
  at: Date;
  horizonSeconds: number;
  /** Probability, from 0 to 1, that lag reaches the objective within the horizon. */
  probability: number;
  threshold: number;
  alerted: boolean;
  /** Extrapolated time of the breach, null when no trend points at one. */
  predictedBreachAt: Date | null;
  objectiveSeconds: number;
  lagSeconds: number | null;
  /** Indicators that pushed the probability up, strongest first. */
  indicators: Indicator[];
  modelVersion: string;
}

/** Indicator that explains each feature. */
const FEATURE_INDICATORS: Readonly<Record<FeatureName, string>> = {
  lag_ratio: 'lag_seconds',
  projected_lag_ratio: 'lag_slope_seconds_per_minute',
  lag_trend: 'lag_slope_seconds_per_minute',
  breach_within_horizon: 'lag_slope_seconds_per_minute',
  wait_ratio: 'expected_wait_seconds',
  net_inflow: 'net_inflow_per_minute',
  depth_trend: 'net_inflow_per_minute',
  consumer_drop: 'consumers_lost',
  stuck: 'stuck_messages',
  failure_rate: 'failures_per_minute',
  failure_trend: 'failures_per_minute',
  dead_letter_growth: 'dead_letters_per_minute',
  partner_latency_trend: 'partner_latency_ratio',
  credential_pressure: 'credential_seconds_left',
  source_down_share: 'source_down_share',
};

/**
 * Breach estimates further ahead than this many horizons are not stored,
 * because a slope of a fraction of a second a minute extrapolates to hours
 * and means no trend rather than a breach.
 */
const MAX_BREACH_ESTIMATE_HORIZONS = 4;

/** Indicators listed per prediction at most. */
const MAX_INDICATORS = 5;

/**
 * Predicts whether one key breaches its objective within the horizon after
 * `now`, from its minutes up to `now`. Returns null when the key has too
 * little history for features.
 */
export function predictKey(
  series: KeyedSeries,
  now: Date,
  objectiveSeconds: number,
  horizonSeconds: number,
  threshold: number,
  model: BreachModel,
): Prediction | null {
  const features = computeFeatures(series.points, now.getTime(), objectiveSeconds, horizonSeconds);
  if (!features) return null;
  const probability = model.predict(features.values);
  const contributions = model.contributions(features.values);

  // Each indicator ranks by the strongest feature it explains.
  const strength = new Map<string, number>();
  FEATURE_NAMES.forEach((name, index) => {
    const indicator = FEATURE_INDICATORS[name];
    strength.set(indicator, Math.max(strength.get(indicator) ?? 0, contributions[index] ?? 0));
  });
  const drivers = features.indicators
    .filter((indicator) => (strength.get(indicator.name) ?? 0) > 0.05)
    .sort((a, b) => (strength.get(b.name) ?? 0) - (strength.get(a.name) ?? 0))
    .slice(0, MAX_INDICATORS);
  const lagIndicator = features.indicators.find((indicator) => indicator.name === 'lag_seconds');
  const indicators = drivers.length > 0 || !lagIndicator ? drivers : [lagIndicator];

  return {
    integration: series.integration,
    workflow: series.workflow,
    plant: series.plant,
    at: now,
    horizonSeconds,
    probability,
    threshold,
    alerted: probability >= threshold,
    predictedBreachAt:
      features.breach === null || features.breach.seconds > MAX_BREACH_ESTIMATE_HORIZONS * horizonSeconds
        ? null
        : new Date(now.getTime() + features.breach.seconds * 1000),
    objectiveSeconds,
    lagSeconds: features.lagSeconds,
    indicators,
    modelVersion: model.version,
  };
}

/** Evaluations below the threshold in a row that resolve an open prediction incident. */
export const RESOLVE_AFTER_EVALUATIONS = 5;
/** Probability from which a prediction alert is critical rather than a warning. */
export const CRITICAL_PROBABILITY = 0.8;

interface OpenIncident {
  incidentId: string;
  severity: AlertSeverity;
  belowCount: number;
}

/**
 * Turns predictions into incident events: one incident per key opens when
 * the probability reaches the threshold, updates when its severity changes,
 * and resolves after `RESOLVE_AFTER_EVALUATIONS` evaluations below it, so a
 * probability hovering at the threshold does not flap.
 *
 * NOTE: a key that stops getting predictions (its samples stop, or its
 * workflow loses its objective) keeps its incident open until it gets
 * predictions again. Open incidents are kept in memory only, so a restart loses them.
 */
export class PredictionIncidents {
  readonly #open = new Map<string, OpenIncident>();

  /** Returns the event the prediction causes, if any. */
  update(prediction: Prediction): AlertEvent | null {
    const key = `${prediction.integration}\u0000${prediction.workflow}\u0000${prediction.plant}`;
    const open = this.#open.get(key);
    if (prediction.alerted) {
      const severity: AlertSeverity = prediction.probability >= CRITICAL_PROBABILITY ? 'critical' : 'warning';
      if (!open) {
        const incidentId = `prediction:${prediction.integration}:${prediction.workflow}:${prediction.plant || 'all'}:${prediction.at.getTime()}`;
        this.#open.set(key, { incidentId, severity, belowCount: 0 });
        return toAlertEvent(prediction, incidentId, 'opened', severity);
      }
      open.belowCount = 0;
      if (open.severity === severity) return null;
      open.severity = severity;
      return toAlertEvent(prediction, open.incidentId, 'updated', severity);
    }
    if (!open) return null;
    open.belowCount += 1;
    if (open.belowCount < RESOLVE_AFTER_EVALUATIONS) return null;
    this.#open.delete(key);
    return toAlertEvent(prediction, open.incidentId, 'resolved', 'info');
  }

  /** Keys with an open incident. */
  get openCount(): number {
    return this.#open.size;
  }
}

function toAlertEvent(
  prediction: Prediction,
  incidentId: string,
  state: AlertEvent['state'],
  severity: AlertSeverity,
): AlertEvent {
  const where = prediction.plant ? ` in ${prediction.plant}` : '';
  const workflow = prediction.workflow.replaceAll('_', ' ');
  const objective = formatSeconds(prediction.objectiveSeconds);
  const horizon = formatSeconds(prediction.horizonSeconds);
  const eta =
    prediction.predictedBreachAt === null
      ? `within ${horizon}`
      : `in about ${formatSeconds(Math.max(0, (prediction.predictedBreachAt.getTime() - prediction.at.getTime()) / 1000))}`;
  const title =
    state === 'resolved'
      ? `${capitalize(workflow)}${where} no longer expected to break its ${objective} objective (${prediction.integration})`
      : `${capitalize(workflow)}${where} may break its ${objective} objective ${eta} (${prediction.integration})`;

  const drivers = prediction.indicators.map((indicator) => indicator.description).join('; ');
  const explanation = `Breach probability ${prediction.probability.toFixed(2)} within ${horizon} (threshold ${prediction.threshold}, model ${prediction.modelVersion}): ${drivers || 'no indicator stands out'}.`;
  const event: AlertEvent = {
    incidentId,
    state,
    kind: 'prediction',
    severity,
    title,
    explanation,
    integration: prediction.integration,
    workflow: prediction.workflow,
    breachProbability: prediction.probability,
    window: { start: new Date(prediction.at.getTime() - LOOKBACK_MINUTES * 60_000), end: prediction.at },
    at: prediction.at,
  };

  if (prediction.plant) event.plant = prediction.plant;
  if (prediction.predictedBreachAt) event.predictedBreachAt = prediction.predictedBreachAt;
  if (prediction.lagSeconds !== null) {
    event.metric = {
      name: 'lag_seconds',
      observed: prediction.lagSeconds,
      unit: 's',
      upper: prediction.objectiveSeconds,
      objective: `lag within ${objective}`,
    };
  }
  return event;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
