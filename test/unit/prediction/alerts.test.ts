import { describe, expect, it } from 'vitest';
import {
  PredictionIncidents,
  RESOLVE_AFTER_EVALUATIONS,
  scoreAlerts,
  summarizeCalibration,
  type EvaluationRun,
  type Prediction,
} from '../../../analyzer/prediction/index.js';

const AT = Date.parse('2026-01-05T06:00:00.000Z');

function prediction(minute: number, probability: number): Prediction {
  return {
    integration: 'odoo-qms',
    workflow: 'quality_hold',
    plant: 'plant-a',
    at: new Date(AT + minute * 60_000),
    horizonSeconds: 900,
    probability,
    threshold: 0.5,
    alerted: probability >= 0.5,
    predictedBreachAt: new Date(AT + (minute + 8) * 60_000),
    objectiveSeconds: 120,
    lagSeconds: 45,
    indicators: [{ name: 'lag_slope_seconds_per_minute', value: 9, description: 'lag growing 9 s a minute' }],
    modelVersion: 'heuristic-1',
  };
}

describe('PredictionIncidents', () => {
  it('opens, updates and resolves one incident', () => {
    const incidents = new PredictionIncidents();
    expect(incidents.update(prediction(0, 0.2))).toBeNull();

    const opened = incidents.update(prediction(1, 0.6));
    expect(opened?.state).toBe('opened');
    expect(opened?.kind).toBe('prediction');
    expect(opened?.severity).toBe('warning');
    expect(opened?.breachProbability).toBe(0.6);
    expect(opened?.predictedBreachAt).toEqual(new Date(AT + 9 * 60_000));
    expect(opened?.title).toBe('Quality hold in plant-a may break its 2 min objective in about 8 min (odoo-qms)');
    expect(opened?.explanation).toContain('lag growing 9 s a minute');

    expect(incidents.update(prediction(2, 0.65))).toBeNull();
    const escalated = incidents.update(prediction(3, 0.9));
    expect(escalated?.state).toBe('updated');
    expect(escalated?.severity).toBe('critical');
    expect(escalated?.incidentId).toBe(opened?.incidentId);

    for (let step = 1; step < RESOLVE_AFTER_EVALUATIONS; step += 1) {
      expect(incidents.update(prediction(3 + step, 0.1))).toBeNull();
    }
    const resolved = incidents.update(prediction(3 + RESOLVE_AFTER_EVALUATIONS, 0.1));
    expect(resolved?.state).toBe('resolved');
    expect(resolved?.incidentId).toBe(opened?.incidentId);
    expect(incidents.openCount).toBe(0);
  });

  it('keeps an incident open through one dip', () => {
    const incidents = new PredictionIncidents();
    incidents.update(prediction(0, 0.7));
    expect(incidents.update(prediction(1, 0.3))).toBeNull();
    expect(incidents.update(prediction(2, 0.7))).toBeNull();
    expect(incidents.openCount).toBe(1);
  });
});

describe('scoreAlerts', () => {
  const run = (breachMinute: number | null): EvaluationRun => ({
    label: 'test',
    integration: 'odoo-qms',
    workflow: 'quality_hold',
    plant: 'plant-a',
    objectiveSeconds: 120,
    startedAt: new Date(AT),
    endedAt: new Date(AT + 150 * 60_000),
    breachAt: breachMinute === null ? null : new Date(AT + breachMinute * 60_000),
  });
  const at = (minute: number) => new Date(AT + minute * 60_000);

  it('scores early, late and false alerts', () => {
    const score = scoreAlerts(
      [
        { run: run(60), openedAt: [at(52)] },
        { run: run(60), openedAt: [at(61)] },
        { run: run(null), openedAt: [at(40)] },
        { run: run(60), openedAt: [at(5), at(45)] },
      ],
      900,
    );
    expect(score.alerts).toBe(5);
    // The alerts at 52, 61 and 45 are within the window; 5 and the benign run's are not.
    expect(score.truePositiveAlerts).toBe(3);
    expect(score.precision).toBeCloseTo(0.6, 10);
    expect(score.breachRuns).toBe(3);
    expect(score.detectedRuns).toBe(2);
    expect(score.leadMinutes).toEqual([8, 15]);
    expect(score.medianLeadMinutes).toBe(11.5);
  });

  it('returns zeros without alerts', () => {
    const score = scoreAlerts([{ run: run(null), openedAt: [] }], 900);
    expect(score.precision).toBe(0);
    expect(score.recall).toBe(0);
    expect(score.medianLeadMinutes).toBeNull();
  });
});

describe('summarizeCalibration', () => {
  it('bins probabilities and scores them', () => {
    const summary = summarizeCalibration([
      { probability: 0.05, breachedWithinHorizon: false },
      { probability: 0.05, breachedWithinHorizon: false },
      { probability: 0.95, breachedWithinHorizon: true },
      { probability: 0.95, breachedWithinHorizon: false },
      { probability: 1, breachedWithinHorizon: true },
    ]);
    expect(summary.predictions).toBe(5);
    // (0.05² + 0.05² + 0.05² + 0.95² + 0²) / 5
    expect(summary.brierScore).toBeCloseTo((3 * 0.0025 + 0.9025) / 5, 10);
    expect(summary.bins).toHaveLength(2);
    expect(summary.bins[0]).toEqual({ from: 0, to: 0.1, count: 2, meanProbability: 0.05, observedRate: 0 });
    expect(summary.bins[1]?.count).toBe(3);
    expect(summary.bins[1]?.observedRate).toBeCloseTo(2 / 3, 10);
  });

  it('returns zero for no predictions', () => {
    expect(summarizeCalibration([])).toEqual({ predictions: 0, brierScore: 0, bins: [] });
  });
});
