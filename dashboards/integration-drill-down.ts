import { PanelBuilder, type Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import {
  CLICKHOUSE_DATASOURCE,
  ClickHouseQueryBuilder,
  PLANT_EXPRESSION,
  buildIntegrationVariable,
  buildPlantVariable,
  buildTraceIdVariable,
  buildWorkflowVariable,
  createDashboard,
  numberPanels,
  tablePanel,
  timeseriesPanel,
} from './defaults.js';

export const INTEGRATION_DRILL_DOWN_UID = 'syncwatch-integration-drill-down';

/** Traces listed by the trace search, newest first. */
export const TRACE_SEARCH_LIMIT = 200;

/**
 * Trace search: each trace in the time range with a span of a selected
 * integration, with its first span, duration and error count. A span with a
 * correlation id counts only when its transaction is of a selected plant and
 * workflow. The column names `traceID`, `serviceName`, `operationName` and
 * `startTime` are those Grafana's trace views link on.
 */
export const TRACE_SEARCH_SQL = `SELECT
    TraceId AS traceID,
    min(Timestamp) AS startTime,
    argMin(ServiceName, Timestamp) AS serviceName,
    argMin(SpanName, Timestamp) AS operationName,
    (max(toUnixTimestamp64Nano(Timestamp) + Duration) - min(toUnixTimestamp64Nano(Timestamp))) / 1000000 AS duration_ms,
    count() AS spans,
    countIf(StatusCode = 'Error') AS error_spans,
    arrayStringConcat(arraySort(groupUniqArrayIf(SpanAttributes['syncwatch.integration'], SpanAttributes['syncwatch.integration'] != '')), ', ') AS integrations,
    max(SpanAttributes['syncwatch.workflow']) AS workflow,
    max(SpanAttributes['syncwatch.correlation_id']) AS correlation_id
FROM otel_traces
WHERE $__timeFilter(Timestamp)
    AND TraceId IN (
        SELECT TraceId
        FROM otel_traces
        WHERE $__timeFilter(Timestamp)
            AND SpanAttributes['syncwatch.integration'] IN (\${integration:singlequote})
            AND (
                SpanAttributes['syncwatch.correlation_id'] = ''
                OR SpanAttributes['syncwatch.correlation_id'] IN (
                    SELECT correlation_id
                    FROM workflow_transaction_latency
                    WHERE ${PLANT_EXPRESSION} IN (\${plant:singlequote})
                        AND (workflow IN (\${workflow:singlequote}) OR workflow = '')
                )
            )
    )
GROUP BY TraceId
ORDER BY startTime DESC
LIMIT ${TRACE_SEARCH_LIMIT}`;

/**
 * The spans of the trace in the `trace_id` variable, in the columns of
 * Grafana's trace data frame: times and durations in milliseconds, attributes
 * as key/value pairs.
 */
export const TRACE_SPANS_SQL = `SELECT
    TraceId AS traceID,
    SpanId AS spanID,
    ParentSpanId AS parentSpanID,
    ServiceName AS serviceName,
    SpanName AS operationName,
    toUnixTimestamp64Nano(Timestamp) / 1000000 AS startTime,
    Duration / 1000000 AS duration,
    arrayMap(key -> map('key', key, 'value', SpanAttributes[key]), mapKeys(SpanAttributes)) AS tags,
    arrayMap(key -> map('key', key, 'value', ResourceAttributes[key]), mapKeys(ResourceAttributes)) AS serviceTags,
    SpanKind AS kind,
    StatusCode AS statusCode,
    StatusMessage AS statusMessage
FROM otel_traces
WHERE TraceId = '\${trace_id}'
    AND $__timeFilter(Timestamp)
ORDER BY Timestamp`;

/** Event lag of each entity (queue, job channel) of the selected integrations per interval. */
export const ENTITY_LAG_SQL = `SELECT
    toStartOfInterval(observed_at, INTERVAL $__interval_s second) AS time,
    concat(integration, ' / ', entity) AS entity,
    max(lag_seconds) AS lag_seconds
FROM integration_lag
WHERE $__timeFilter(observed_at)
    AND integration IN (\${integration:singlequote})
    AND (workflow IN (\${workflow:singlequote}) OR workflow = '')
GROUP BY time, entity
ORDER BY time, entity`;

/** The latest sample of each entity in the time range, with the pitfalls found on it. */
export const ENTITY_STATE_SQL = `SELECT
    integration,
    source,
    entity,
    argMax(status, observed_at) AS status,
    max(observed_at) AS last_observed_at,
    argMax(lag_seconds, observed_at) AS lag_seconds,
    argMax(lag_estimated, observed_at) AS lag_estimated,
    argMax(depth, observed_at) AS depth,
    argMax(in_flight, observed_at) AS in_flight,
    argMax(consumers, observed_at) AS consumers,
    argMax(stuck, observed_at) AS stuck,
    argMax(failed, observed_at) AS failed,
    arrayStringConcat(argMax(conditions, observed_at), ', ') AS conditions
FROM integration_lag
WHERE $__timeFilter(observed_at)
    AND integration IN (\${integration:singlequote})
    AND (workflow IN (\${workflow:singlequote}) OR workflow = '')
GROUP BY integration, source, entity
ORDER BY status = 'ok', integration, entity`;

/** Failures read from the selected integrations that failed in the time range, latest observation of each. */
export const INTEGRATION_FAILURES_SQL = `SELECT
    failed_at,
    integration,
    workflow,
    source,
    entity,
    exception_name,
    exception_message,
    retry_count,
    failure_id,
    observed_at
FROM integration_failures FINAL
WHERE $__timeFilter(failed_at)
    AND integration IN (\${integration:singlequote})
    AND (workflow IN (\${workflow:singlequote}) OR workflow = '')
ORDER BY failed_at DESC
LIMIT 500`;

/** Failures per exception name and interval. */
export const FAILURES_BY_EXCEPTION_SQL = `SELECT
    toStartOfInterval(failed_at, INTERVAL $__interval_s second) AS time,
    exception_name,
    count() AS failures
FROM integration_failures FINAL
WHERE $__timeFilter(failed_at)
    AND integration IN (\${integration:singlequote})
    AND (workflow IN (\${workflow:singlequote}) OR workflow = '')
GROUP BY time, exception_name
ORDER BY time, exception_name`;

/** Builds the drill-down into integrations: trace search and one trace, lag and state per entity, failures. */
export function buildIntegrationDrillDownDashboard(): Dashboard {
  const dashboard = createDashboard(INTEGRATION_DRILL_DOWN_UID, 'syncwatch: integration drill-down')
    .description('Traces, lag per entity and failures of the selected integrations. Paste a trace id from the search to open it.')
    .withVariable(buildPlantVariable())
    .withVariable(buildIntegrationVariable())
    .withVariable(buildWorkflowVariable())
    .withVariable(buildTraceIdVariable())
    .withPanel(
      tablePanel('Trace search', TRACE_SEARCH_SQL)
        .height(9)
        .span(24),
    )
    .withPanel(
      new PanelBuilder()
        .type('traces')
        .title('Trace ${trace_id}')
        .datasource(CLICKHOUSE_DATASOURCE)
        .withTarget(new ClickHouseQueryBuilder(TRACE_SPANS_SQL, 'traces'))
        .height(12)
        .span(24),
    )
    .withPanel(
      timeseriesPanel('Event lag per entity', ENTITY_LAG_SQL)
        .unit('s')
        .height(8)
        .span(12),
    )
    .withPanel(
      timeseriesPanel('Failures per exception', FAILURES_BY_EXCEPTION_SQL)
        .unit('short')
        .height(8)
        .span(12),
    )
    .withPanel(
      tablePanel('Entity state', ENTITY_STATE_SQL)
        .height(8)
        .span(24),
    )
    .withPanel(
      tablePanel('Failures', INTEGRATION_FAILURES_SQL)
        .height(10)
        .span(24),
    )
    .build();

  return numberPanels(dashboard);
}
