import type { ClickHouseClient } from '@clickhouse/client';
import { median } from './time-to-breach.js';
import { predictKey, PredictionIncidents, RESOLVE_AFTER_EVALUATIONS } from './predict.js';
import type { BreachModel } from './model.js';
import { readMinuteSeries, type KeyedSeries } from './series.js';

/** Lag share of the objective at which the static threshold alert fires. */
export const STATIC_THRESHOLD_SHARE = 0.5;
/** Minutes in a row at or above the static threshold before it fires. */
export const STATIC_THRESHOLD_MINUTES = 2;

/** A run to score: the key it disturbs, its time range and its ground truth. */
export interface EvaluationRun {
  label: string;
  integration: string;
  workflow: string;
  plant: string;
  objectiveSeconds: number;
  startedAt: Date;
  endedAt: Date;
  breachAt: Date | null;
}

/** When an alerting method opened incidents on one run. */
export interface RunAlerts {
  run: EvaluationRun;
  openedAt: Date[];
}

/** Precision, recall and lead time of one alerting method over many runs. */
export interface EvaluationScore {
  alerts: number;
  truePositiveAlerts: number;
  breachRuns: number;
  detectedRuns: number;
  precision: number;
  recall: number;
  /** Minutes from the first in-time alert to the breach, one per detected run. */
  leadMinutes: number[];
  medianLeadMinutes: number | null;
}

/**
 * Scores alerts against ground truth. An alert is true when its run breaches
 * and it opened at most two horizons before the breach or within one horizon
 * after it. Every other alert, such as one on a benign run, is false. A
 * breach run counts as detected when an alert opened in the two horizons
 * before the breach, and its lead time is measured from the first of those.
 */
export function scoreAlerts(results: readonly RunAlerts[], horizonSeconds: number): EvaluationScore {
  const horizonMs = horizonSeconds * 1000;
  let alerts = 0;
  let truePositiveAlerts = 0;
  let breachRuns = 0;
  const leadMinutes: number[] = [];
  for (const { run, openedAt } of results) {
    alerts += openedAt.length;
    if (run.breachAt === null) continue;
    breachRuns += 1;
    const breachMs = run.breachAt.getTime();
    truePositiveAlerts += openedAt.filter((at) => at.getTime() >= breachMs - 2 * horizonMs && at.getTime() <= breachMs + horizonMs).length;
    const early = openedAt.filter((at) => at.getTime() >= breachMs - 2 * horizonMs && at.getTime() < breachMs);
    if (early.length > 0) leadMinutes.push((breachMs - early[0]!.getTime()) / 60_000);
  }
  return {
    alerts,
    truePositiveAlerts,
    breachRuns,
    detectedRuns: leadMinutes.length,
    precision: alerts === 0 ? 0 : truePositiveAlerts / alerts,
    recall: breachRuns === 0 ? 0 : leadMinutes.length / breachRuns,
    leadMinutes,
    medianLeadMinutes: leadMinutes.length === 0 ? null : median(leadMinutes),
  };
}

/** Reads a run's series from the store: the key it disturbs, within its time range. */
export async function readRunSeries(client: ClickHouseClient, run: EvaluationRun): Promise<KeyedSeries> {
  const series = await readMinuteSeries(client, run.startedAt, new Date(run.endedAt.getTime() + 60_000));
  const match = series.find(
    (entry) => entry.integration === run.integration && entry.workflow === run.workflow && entry.plant === run.plant,
  );
  return match ?? { integration: run.integration, workflow: run.workflow, plant: run.plant, points: [] };
}

/** A predicted probability beside what happened within the horizon after it. */
export interface ProbabilityOutcome {
  probability: number;
  breachedWithinHorizon: boolean;
}

/** Incidents the model opened on a run, and every prediction made before the breach with its outcome. */
export interface ModelReplay extends RunAlerts {
  outcomes: ProbabilityOutcome[];
}

/**
 * Replays the prediction stage minute by minute over a run's stored series
 * and returns when it opened incidents.
 */
export function replayModel(
  run: EvaluationRun,
  series: KeyedSeries,
  model: BreachModel,
  horizonSeconds: number,
  threshold: number,
): ModelReplay {
  const incidents = new PredictionIncidents();
  const openedAt: Date[] = [];
  const outcomes: ProbabilityOutcome[] = [];
  const breachMs = run.breachAt?.getTime() ?? Number.POSITIVE_INFINITY;
  for (const point of series.points) {
    const now = new Date(point.minuteMs);
    const prediction = predictKey(series, now, run.objectiveSeconds, horizonSeconds, threshold, model);
    if (!prediction) continue;
    const event = incidents.update(prediction);
    if (event?.state === 'opened') openedAt.push(now);
    if (point.minuteMs < breachMs) {
      outcomes.push({ probability: prediction.probability, breachedWithinHorizon: breachMs <= point.minuteMs + horizonSeconds * 1000 });
    }
  }
  return { run, openedAt, outcomes };
}

/** Calibration of predicted probabilities against observed breach rates. */
export interface CalibrationSummary {
  predictions: number;
  /** Mean squared difference between probability and outcome (0 or 1); lower is better. */
  brierScore: number;
  /** Predictions grouped by probability in tenths, with the mean probability and the observed breach rate of each. */
  bins: { from: number; to: number; count: number; meanProbability: number; observedRate: number }[];
}

/** Summarizes calibration in ten equal-width probability bins, leaving out empty bins. */
export function summarizeCalibration(outcomes: readonly ProbabilityOutcome[]): CalibrationSummary {
  const bins = Array.from({ length: 10 }, (_, index) => ({ from: index / 10, to: (index + 1) / 10, count: 0, sum: 0, hits: 0 }));
  let squaredError = 0;
  for (const outcome of outcomes) {
    const observed = outcome.breachedWithinHorizon ? 1 : 0;
    squaredError += (outcome.probability - observed) ** 2;
    const bin = bins[Math.min(9, Math.floor(outcome.probability * 10))]!;
    bin.count += 1;
    bin.sum += outcome.probability;
    bin.hits += observed;
  }
  return {
    predictions: outcomes.length,
    brierScore: outcomes.length === 0 ? 0 : squaredError / outcomes.length,
    bins: bins
      .filter((bin) => bin.count > 0)
      .map((bin) => ({ from: bin.from, to: bin.to, count: bin.count, meanProbability: bin.sum / bin.count, observedRate: bin.hits / bin.count })),
  };
}

/**
 * Replays a static threshold alert over the same series: it opens when lag
 * stays at or above `STATIC_THRESHOLD_SHARE` of the objective for
 * `STATIC_THRESHOLD_MINUTES` minutes and resolves after as many minutes
 * below as the prediction incidents need.
 */
export function replayStaticThreshold(run: EvaluationRun, series: KeyedSeries): RunAlerts {
  const limit = run.objectiveSeconds * STATIC_THRESHOLD_SHARE;
  const openedAt: Date[] = [];
  let above = 0;
  let below = 0;
  let open = false;
  for (const point of series.points) {
    if (point.lagSeconds === null) continue;
    if (point.lagSeconds >= limit) {
      above += 1;
      below = 0;
      if (!open && above >= STATIC_THRESHOLD_MINUTES) {
        open = true;
        openedAt.push(new Date(point.minuteMs));
      }
    } else {
      above = 0;
      below += 1;
      if (open && below >= RESOLVE_AFTER_EVALUATIONS) open = false;
    }
  }
  return { run, openedAt };
}
