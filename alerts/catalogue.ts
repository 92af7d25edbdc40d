import type { AlertEvent, AlertKind } from './alert.js';

/**
 * One kind of alert. Its `id` is stable like an error code: routing rules,
 * runbooks and chat searches refer to it, so an id is never renamed or reused.
 */
export interface AlertCatalogueEntry {
  id: string;
  kind: AlertKind;
  /** What the alert means, in one line for the message footer. */
  meaning: string;
  /** The first thing to check, in plant terms. */
  firstCheck: string;
}

const entry = (id: string, kind: AlertKind, meaning: string, firstCheck: string): AlertCatalogueEntry => ({ id, kind, meaning, firstCheck });

/** Every alert kind, keyed by id. */
export const ALERT_CATALOGUE = {
  ALERT_LAG_ANOMALY: entry(
    'ALERT_LAG_ANOMALY',
    'anomaly',
    'the oldest waiting message is older than the seasonal baseline allows',
    'consumers of the queue: are they running and acknowledging?',
  ),
  ALERT_DEPTH_ANOMALY: entry(
    'ALERT_DEPTH_ANOMALY',
    'anomaly',
    'queue depth is outside its seasonal band',
    'publish and drain rates: did a planning run or receipt wave start?',
  ),
  ALERT_LATENCY_ANOMALY: entry(
    'ALERT_LATENCY_ANOMALY',
    'anomaly',
    'end-to-end workflow latency is outside its seasonal band',
    'the slowest hop in the trace drill-down',
  ),
  ALERT_ERROR_RATE_ANOMALY: entry(
    'ALERT_ERROR_RATE_ANOMALY',
    'anomaly',
    'the share of failed spans or jobs is outside its seasonal band',
    'the exception sample and the partner endpoint status',
  ),
  ALERT_SOURCE_DOWN: entry(
    'ALERT_SOURCE_DOWN',
    'anomaly',
    'syncwatch cannot read the queue, table or endpoint',
    'credentials and network path from syncwatch to the source',
  ),
  ALERT_ANOMALY: entry('ALERT_ANOMALY', 'anomaly', 'a series is outside its seasonal band', 'the series in the dashboard'),
  ALERT_OBJECTIVE_BREACH_PREDICTED: entry(
    'ALERT_OBJECTIVE_BREACH_PREDICTED',
    'prediction',
    'the workflow is predicted to miss its objective',
    'the backlog trend and the predicted breach time',
  ),
  ALERT_EXCEPTION: entry(
    'ALERT_EXCEPTION',
    'exception',
    'a class of integration exceptions is growing',
    'the redacted sample and whether a retry is safe',
  ),
  ALERT_REMEDIATION_PROPOSED: entry(
    'ALERT_REMEDIATION_PROPOSED',
    'remediation',
    'a remediation waits for approval',
    'the blast radius and duplicate risk of the proposal in the console',
  ),
} as const satisfies Record<string, AlertCatalogueEntry>;

export type AlertId = keyof typeof ALERT_CATALOGUE;

/** Metric names, as the collector stores them, that have their own anomaly alert. */
const ANOMALY_BY_METRIC: Array<[RegExp, AlertId]> = [
  [/^source_down$/, 'ALERT_SOURCE_DOWN'],
  [/lag/, 'ALERT_LAG_ANOMALY'],
  [/depth|backlog|pending/, 'ALERT_DEPTH_ANOMALY'],
  [/latency|duration/, 'ALERT_LATENCY_ANOMALY'],
  [/error|fail/, 'ALERT_ERROR_RATE_ANOMALY'],
];

/** Returns the catalogue entry of an event, from its kind and metric name. */
export function classifyAlert(event: Pick<AlertEvent, 'kind' | 'metric'>): AlertCatalogueEntry {
  switch (event.kind) {
    case 'prediction':
      return ALERT_CATALOGUE.ALERT_OBJECTIVE_BREACH_PREDICTED;
    case 'exception':
      return ALERT_CATALOGUE.ALERT_EXCEPTION;
    case 'remediation':
      return ALERT_CATALOGUE.ALERT_REMEDIATION_PROPOSED;
    case 'anomaly': {
      const name = event.metric?.name ?? '';
      const match = ANOMALY_BY_METRIC.find(([pattern]) => pattern.test(name));
      return ALERT_CATALOGUE[match ? match[1] : 'ALERT_ANOMALY'];
    }
  }
}
