import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import {
  PLANT_EXPRESSION,
  buildIntegrationVariable,
  buildPlantVariable,
  buildWorkflowVariable,
  createDashboard,
  numberPanels,
  statPanel,
  tablePanel,
  timeseriesPanel,
} from './defaults.js';

export const NETWORK_OVERVIEW_UID = 'syncwatch-network-overview';

/**
 * Each workflow's objective status over the dashboard's time range. The
 * status view takes the window as parameters, so transactions that started
 * in the range count.
 */
export const SLO_STATUS_SQL = `SELECT
    workflow,
    criticality,
    status,
    transactions,
    transactions_with_errors,
    in_flight,
    in_flight_over_objective,
    p50_ms,
    p95_ms,
    p99_ms,
    percentile,
    objective_ms,
    share_within_objective
FROM workflow_slo_status_between(window_start = $__fromTime, window_end = $__toTime)
WHERE workflow IN (\${workflow:singlequote})
ORDER BY status = 'breaching' DESC, workflow`;

/** Workflows whose status is `breaching` in the time range. */
export const BREACHING_WORKFLOWS_SQL = `SELECT countIf(status = 'breaching') AS breaching_workflows
FROM workflow_slo_status_between(window_start = $__fromTime, window_end = $__toTime)
WHERE workflow IN (\${workflow:singlequote})`;

/** End-to-end latency percentiles of the completed transactions that started in each interval. */
export const LATENCY_PERCENTILES_SQL = `SELECT
    toStartOfInterval(started_at, INTERVAL $__interval_s second) AS time,
    quantile(0.5)(latency_ms) AS p50_ms,
    quantile(0.95)(latency_ms) AS p95_ms,
    quantile(0.99)(latency_ms) AS p99_ms
FROM workflow_transaction_latency
WHERE $__timeFilter(started_at)
    AND NOT in_flight
    AND workflow IN (\${workflow:singlequote})
    AND ${PLANT_EXPRESSION} IN (\${plant:singlequote})
GROUP BY time
ORDER BY time`;

/** Transactions started per second in each interval, per workflow. */
export const TRANSACTION_THROUGHPUT_SQL = `SELECT
    toStartOfInterval(started_at, INTERVAL $__interval_s second) AS time,
    workflow,
    count() / $__interval_s AS transactions_per_second
FROM workflow_transaction_latency
WHERE $__timeFilter(started_at)
    AND workflow IN (\${workflow:singlequote})
    AND ${PLANT_EXPRESSION} IN (\${plant:singlequote})
GROUP BY time, workflow
ORDER BY time, workflow`;

/**
 * Largest event lag of any entity of each integration per interval. Samples
 * without a workflow belong to queues shared by several workflows, so the
 * workflow filter keeps them.
 */
export const INTEGRATION_LAG_SQL = `SELECT
    toStartOfInterval(observed_at, INTERVAL $__interval_s second) AS time,
    integration,
    max(lag_seconds) AS lag_seconds
FROM integration_lag
WHERE $__timeFilter(observed_at)
    AND integration IN (\${integration:singlequote})
    AND (workflow IN (\${workflow:singlequote}) OR workflow = '')
GROUP BY time, integration
ORDER BY time, integration`;

/** Queue depth of each integration per interval: the largest sample of each entity, summed over its entities. */
export const INTEGRATION_QUEUE_DEPTH_SQL = `SELECT
    time,
    integration,
    sum(entity_depth) AS depth
FROM (
    SELECT
        toStartOfInterval(observed_at, INTERVAL $__interval_s second) AS time,
        integration,
        entity,
        max(depth) AS entity_depth
    FROM integration_lag
    WHERE $__timeFilter(observed_at)
        AND integration IN (\${integration:singlequote})
        AND (workflow IN (\${workflow:singlequote}) OR workflow = '')
    GROUP BY time, integration, entity
)
GROUP BY time, integration
ORDER BY time, integration`;

/** Share of spans with status `Error` per integration and interval, from the span attribute `syncwatch.integration`. */
export const SPAN_ERROR_RATE_SQL = `SELECT
    toStartOfInterval(Timestamp, INTERVAL $__interval_s second) AS time,
    SpanAttributes['syncwatch.integration'] AS integration,
    countIf(StatusCode = 'Error') / count() AS error_ratio
FROM otel_traces
WHERE $__timeFilter(Timestamp)
    AND SpanAttributes['syncwatch.integration'] IN (\${integration:singlequote})
GROUP BY time, integration
ORDER BY time, integration`;

/** Spans per second per integration and interval. */
export const SPAN_THROUGHPUT_SQL = `SELECT
    toStartOfInterval(Timestamp, INTERVAL $__interval_s second) AS time,
    SpanAttributes['syncwatch.integration'] AS integration,
    count() / $__interval_s AS spans_per_second
FROM otel_traces
WHERE $__timeFilter(Timestamp)
    AND SpanAttributes['syncwatch.integration'] IN (\${integration:singlequote})
GROUP BY time, integration
ORDER BY time, integration`;

/**
 * Failures read from each integration per interval, by the time they failed,
 * and the retries those failures had when last observed.
 */
export const FAILURE_RETRIES_SQL = `SELECT
    toStartOfInterval(failed_at, INTERVAL $__interval_s second) AS time,
    integration,
    count() AS failures,
    sum(retry_count) AS retries
FROM integration_failures FINAL
WHERE $__timeFilter(failed_at)
    AND integration IN (\${integration:singlequote})
    AND (workflow IN (\${workflow:singlequote}) OR workflow = '')
GROUP BY time, integration
ORDER BY time, integration`;

/** Each pull source's polls in the time range and the outcome of its latest one. */
export const SOURCE_HEALTH_SQL = `SELECT
    source,
    source_kind,
    integration,
    argMax(outcome, started_at) AS last_outcome,
    max(started_at) AS last_poll_at,
    argMax(consecutive_failures, started_at) AS consecutive_failures,
    count() AS polls,
    countIf(outcome != 'ok') AS failed_polls,
    round(avg(duration_ms)) AS avg_duration_ms,
    argMax(error, started_at) AS last_error
FROM source_polls
WHERE $__timeFilter(started_at)
    AND integration IN (\${integration:singlequote})
GROUP BY source, source_kind, integration
ORDER BY last_outcome = 'ok', source`;

/** Builds the network overview: objectives, latency, lag and queue depth, errors, retries, throughput and source health. */
export function buildNetworkOverviewDashboard(): Dashboard {
  const dashboard = createDashboard(NETWORK_OVERVIEW_UID, 'syncwatch: network overview')
    .description('Workflow objectives, end-to-end latency, event lag and source health across the integration network.')
    .withVariable(buildPlantVariable())
    .withVariable(buildIntegrationVariable())
    .withVariable(buildWorkflowVariable())
    .withPanel(
      statPanel('Breaching workflows', BREACHING_WORKFLOWS_SQL)
        .height(6)
        .span(4),
    )
    .withPanel(
      tablePanel('Workflow objectives', SLO_STATUS_SQL)
        .description('Transactions that started in the time range; in-flight ones older than the objective count as outside it.')
        .height(6)
        .span(20),
    )
    .withPanel(
      timeseriesPanel('End-to-end latency percentiles', LATENCY_PERCENTILES_SQL)
        .unit('ms')
        .height(8)
        .span(12),
    )
    .withPanel(
      timeseriesPanel('Transaction throughput', TRANSACTION_THROUGHPUT_SQL)
        .unit('reqps')
        .height(8)
        .span(12),
    )
    .withPanel(
      timeseriesPanel('Event lag per integration', INTEGRATION_LAG_SQL)
        .unit('s')
        .height(8)
        .span(12),
    )
    .withPanel(
      timeseriesPanel('Queue depth per integration', INTEGRATION_QUEUE_DEPTH_SQL)
        .unit('short')
        .height(8)
        .span(12),
    )
    .withPanel(
      timeseriesPanel('Span error rate per integration', SPAN_ERROR_RATE_SQL)
        .unit('percentunit')
        .height(8)
        .span(12),
    )
    .withPanel(
      timeseriesPanel('Span throughput per integration', SPAN_THROUGHPUT_SQL)
        .unit('reqps')
        .height(8)
        .span(12),
    )
    .withPanel(
      timeseriesPanel('Failures and retries per integration', FAILURE_RETRIES_SQL)
        .unit('short')
        .height(8)
        .span(24),
    )
    .withPanel(
      tablePanel('Source health', SOURCE_HEALTH_SQL)
        .height(8)
        .span(24),
    )
    .build();

  return numberPanels(dashboard);
}
