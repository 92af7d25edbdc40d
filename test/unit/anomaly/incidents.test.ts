import { describe, expect, it } from 'vitest';
import type { PointScore } from '../../../analyzer/anomaly/detector.js';
import { causeKeyOf, IncidentTracker, type SeriesId } from '../../../analyzer/anomaly/incidents.js';

const MINUTE = 60_000;
const series: SeriesId = { key: 'lag_seconds|odoo-wms|stock_move|plant-a', metric: 'lag_seconds', integration: 'odoo-wms', workflow: 'stock_move', plant: 'plant-a' };

function score(minute: number, value: number, alarm: boolean): PointScore {
  return {
    ts: minute * MINUTE,
    value,
    expected: 10,
    lower: 9,
    upper: 11,
    score: alarm ? 0.9 : 0.1,
    alarm,
    kind: alarm ? 'spike' : 'normal',
    baseline: 'daily',
    explanation: '',
  };
}

/** Alarms once at minute 0, observes `values` one minute apart, and returns how many incidents resolved. */
function resolveAfter(values: readonly number[]): number {
  const tracker = new IncidentTracker({ resolveAfterMs: 5 * MINUTE, recoveryPoints: 3 });
  tracker.recordAlarm(series, score(0, 40, true));
  let resolved = 0;
  values.forEach((value, index) => {
    tracker.observe(series.key, causeKeyOf(series), score(index + 1, value, false));
    resolved += tracker.resolveRecovered((index + 1) * MINUTE).length;
  });
  return resolved;
}

describe('IncidentTracker recovery', () => {
  it('resolves within the widened band', () => {
    // The alarm's band is 9..11, and twice its width around the expected value is 8..12.
    expect(resolveAfter([11.8, 8.3, 11.5, 10, 11.9, 8.1])).toBe(1);
  });

  it('stays open outside the widened band', () => {
    expect(resolveAfter([12.5, 12.4, 12.6, 12.3, 12.5, 12.7, 12.2])).toBe(0);
  });
});
