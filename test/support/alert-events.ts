import type { AlertEvent, AlertSink } from '../../alerts/alert.js';

/** Builds a lag anomaly on the QMS → Odoo integration of plant-2, with every optional field set. */
export function lagAnomaly(overrides: Partial<AlertEvent> = {}): AlertEvent {
  const at = new Date('2026-12-04T18:40:00Z');
  return {
    incidentId: 'inc-qms-lag-1',
    state: 'opened',
    kind: 'anomaly',
    severity: 'critical',
    title: 'Quality holds from QMS to Odoo lag 14 min in plant-2',
    explanation: 'The oldest waiting quality hold is 842 s old; for a Friday evening the band is 0–120 s.',
    integration: 'qms-odoo',
    workflow: 'quality_hold',
    plant: 'plant-2',
    metric: { name: 'lag_seconds', observed: 842, unit: 's', expected: 45, lower: 0, upper: 120, objective: 'p95 within 2m' },
    window: { start: new Date('2026-12-04T18:35:00Z'), end: at },
    predictedBreachAt: new Date('2026-12-04T18:54:00Z'),
    breachProbability: 0.82,
    exception: {
      fingerprint: 'fp-7d1c',
      category: 'timeout',
      retryable: true,
      sample: 'POST /qms/holds timed out after 30s; Authorization: Bearer abcdefghijklmnop contact qa.lead@example.com',
      count: 37,
    },
    correlationIds: ['corr-1', 'corr-2', 'corr-3', 'corr-4', 'corr-5', 'corr-6', 'corr-7'],
    at,
    ...overrides,
  };
}

/** An alert sink that keeps every event it receives, in order. */
export interface RecordingSink extends AlertSink {
  readonly events: AlertEvent[];
}

/** Returns a sink that records events, for tests that start the service. */
export function createRecordingSink(): RecordingSink {
  const events: AlertEvent[] = [];
  return {
    name: 'recorder',
    events,
    send: async (event) => {
      events.push(event);
    },
    close: async () => {},
  };
}
