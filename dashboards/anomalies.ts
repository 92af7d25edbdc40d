import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import {
  buildIntegrationVariable,
  buildPlantVariable,
  buildWorkflowVariable,
  createDashboard,
  numberPanels,
  statPanel,
  tablePanel,
  timeseriesPanel,
} from './defaults.js';
import { ANALYZER_SCOPE_FILTER } from './scope.js';

export const ANOMALIES_UID = 'syncwatch-anomalies';

/** Incidents open now, whenever they opened. `incidents` keeps one row per change, so FINAL reads the latest. */
export const OPEN_INCIDENT_COUNT_SQL = `SELECT count() AS open_incidents
FROM incidents FINAL
WHERE state != 'resolved'
    AND ${ANALYZER_SCOPE_FILTER}`;

export const OPEN_INCIDENTS_SQL = `SELECT
    incident_id,
    severity,
    kind,
    integration,
    workflow,
    plant,
    metric,
    title,
    opened_at,
    updated_at,
    anomaly_count,
    peak_score,
    explanation
FROM incidents FINAL
WHERE state != 'resolved'
    AND ${ANALYZER_SCOPE_FILTER}
ORDER BY severity = 'critical' DESC, opened_at DESC`;

/** Incidents that opened in the time range, resolved or not, with how long each lasted. */
export const INCIDENT_HISTORY_SQL = `SELECT
    incident_id,
    state,
    severity,
    title,
    opened_at,
    resolved_at,
    round(dateDiff('second', opened_at, ifNull(resolved_at, now64(3))) / 60, 1) AS duration_minutes
FROM incidents FINAL
WHERE $__timeFilter(opened_at)
    AND ${ANALYZER_SCOPE_FILTER}
ORDER BY opened_at DESC
LIMIT 500`;

/** Highest anomaly score of each series per interval, where 0.5 and above raised an alarm. */
export const ANOMALY_SCORE_SQL = `SELECT
    toStartOfInterval(ts, INTERVAL $__interval_s second) AS time,
    series_key AS series,
    max(score) AS score
FROM anomalies FINAL
WHERE $__timeFilter(ts)
    AND ${ANALYZER_SCOPE_FILTER}
GROUP BY time, series
ORDER BY time, series`;

/** Each anomalous point with the value the detector expected and its normal band. */
export const ANOMALY_POINTS_SQL = `SELECT
    ts,
    integration,
    workflow,
    plant,
    metric,
    kind,
    value,
    expected,
    lower,
    upper,
    score,
    explanation,
    incident_id
FROM anomalies FINAL
WHERE $__timeFilter(ts)
    AND ${ANALYZER_SCOPE_FILTER}
ORDER BY ts DESC
LIMIT 500`;

/** Probability that each workflow breaks its objective within the prediction horizon, per interval. */
export const BREACH_PROBABILITY_SQL = `SELECT
    toStartOfInterval(ts, INTERVAL $__interval_s second) AS time,
    concat(workflow, ' / ', integration, if(plant = '', '', concat(' / ', plant))) AS series,
    max(probability) AS probability
FROM predictions
WHERE $__timeFilter(ts)
    AND ${ANALYZER_SCOPE_FILTER}
GROUP BY time, series
ORDER BY time, series`;

/** The latest prediction of each workflow, integration and plant, with the indicators that drove it. */
export const LATEST_PREDICTIONS_SQL = `SELECT
    workflow,
    integration,
    plant,
    max(ts) AS predicted_at,
    argMax(probability, ts) AS probability,
    argMax(alerted, ts) AS alerted,
    argMax(predicted_breach_at, ts) AS predicted_breach_at,
    argMax(lag_seconds, ts) AS lag_seconds,
    argMax(objective_seconds, ts) AS objective_seconds,
    arrayStringConcat(argMax(indicators.description, ts), '; ') AS indicators,
    argMax(model_version, ts) AS model_version
FROM predictions
WHERE $__timeFilter(ts)
    AND ${ANALYZER_SCOPE_FILTER}
GROUP BY workflow, integration, plant
ORDER BY probability DESC`;

/**
 * Predictions beside what happened: alerts followed by a breach within the
 * horizon, alerts without one, and breaches no alert announced.
 */
export const PREDICTION_OUTCOMES_SQL = `SELECT
    workflow,
    countIf(alerted) AS alerts,
    countIf(alerted AND breached_within_horizon) AS alerts_followed_by_breach,
    countIf(alerted AND NOT breached_within_horizon) AS alerts_without_breach,
    countIf(NOT alerted AND breached_within_horizon) AS breaches_without_alert
FROM prediction_outcomes
WHERE $__timeFilter(ts)
    AND ${ANALYZER_SCOPE_FILTER}
GROUP BY workflow
ORDER BY workflow`;

/** Builds the analyzer's view: open incidents, anomaly scores with their bands, and breach predictions. */
export function buildAnomaliesDashboard(): Dashboard {
  const dashboard = createDashboard(ANOMALIES_UID, 'syncwatch: anomalies, incidents and predictions')
    .description('What the analyzer found: incidents, the anomalous points behind them with the expected band, and predicted objective breaches.')
    .withVariable(buildPlantVariable())
    .withVariable(buildIntegrationVariable())
    .withVariable(buildWorkflowVariable())
    .withPanel(
      statPanel('Open incidents', OPEN_INCIDENT_COUNT_SQL)
        .height(7)
        .span(4),
    )
    .withPanel(
      tablePanel('Incidents open now', OPEN_INCIDENTS_SQL)
        .height(7)
        .span(20),
    )
    .withPanel(
      timeseriesPanel('Anomaly score per series', ANOMALY_SCORE_SQL)
        .unit('short')
        .min(0)
        .max(1)
        .height(8)
        .span(12),
    )
    .withPanel(
      timeseriesPanel('Breach probability', BREACH_PROBABILITY_SQL)
        .unit('percentunit')
        .min(0)
        .max(1)
        .height(8)
        .span(12),
    )
    .withPanel(
      tablePanel('Anomalous points and expected bands', ANOMALY_POINTS_SQL)
        .height(9)
        .span(24),
    )
    .withPanel(
      tablePanel('Latest predictions', LATEST_PREDICTIONS_SQL)
        .height(8)
        .span(16),
    )
    .withPanel(
      tablePanel('Prediction outcomes', PREDICTION_OUTCOMES_SQL)
        .height(8)
        .span(8),
    )
    .withPanel(
      tablePanel('Incident history', INCIDENT_HISTORY_SQL)
        .height(8)
        .span(24),
    )
    .build();
  return numberPanels(dashboard);
}
