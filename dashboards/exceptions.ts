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

export const EXCEPTIONS_UID = 'syncwatch-exceptions';

/** Fingerprints of the selected integrations seen in the time range, with partial rows merged by the summary view. */
const SEEN_FINGERPRINTS = `exception_fingerprint_summary
WHERE $__timeFilter(last_seen)
    AND integration IN (\${integration:singlequote})`;

/** Fingerprints with no category yet, or one the classifier could only call unknown. */
export const UNCLASSIFIED_COUNT_SQL = `SELECT countIf(category IN ('', 'unknown')) AS unclassified_fingerprints
FROM ${SEEN_FINGERPRINTS}`;

/** Share of occurrences whose fingerprint a retry could help, between 0 and 1. */
export const RETRYABLE_SHARE_SQL = `SELECT if(sum(occurrences) = 0, 0, sumIf(occurrences, retryable) / sum(occurrences)) AS retryable_share
FROM ${SEEN_FINGERPRINTS}`;

export const EXCEPTIONS_BY_CATEGORY_SQL = `SELECT
    if(category = '', '(not classified)', category) AS category,
    retryable,
    count() AS fingerprints,
    sum(occurrences) AS occurrences,
    max(last_seen) AS last_seen_at
FROM ${SEEN_FINGERPRINTS}
GROUP BY category, retryable
ORDER BY occurrences DESC`;

/** One line per cause: the template that stands for every occurrence, its label and a redacted sample. */
export const FINGERPRINTS_SQL = `SELECT
    integration,
    if(category = '', '(not classified)', category) AS category,
    retryable,
    round(confidence, 2) AS confidence,
    classified_by,
    occurrences,
    first_seen,
    last_seen,
    template,
    samples[1] AS sample,
    fingerprint
FROM ${SEEN_FINGERPRINTS}
ORDER BY last_seen DESC
LIMIT 500`;

/**
 * Exceptions recorded on spans (OpenTelemetry `exception` events) per
 * exception type and interval, for spans of the selected plants, integrations
 * and workflows.
 */
export const SPAN_EXCEPTIONS_SQL = `SELECT
    toStartOfInterval(Timestamp, INTERVAL $__interval_s second) AS time,
    if(event_attributes['exception.type'] = '', '(no type)', event_attributes['exception.type']) AS exception_type,
    count() AS exceptions
FROM otel_traces
ARRAY JOIN Events.Name AS event_name, Events.Attributes AS event_attributes
WHERE $__timeFilter(Timestamp)
    AND event_name = 'exception'
    AND SpanAttributes['syncwatch.integration'] IN (\${integration:singlequote})
    AND (SpanAttributes['syncwatch.workflow'] IN (\${workflow:singlequote}) OR SpanAttributes['syncwatch.workflow'] = '')
    AND if(SpanAttributes['syncwatch.plant'] = '', '(none)', SpanAttributes['syncwatch.plant']) IN (\${plant:singlequote})
GROUP BY time, exception_type
ORDER BY time, exception_type`;

/** Builds the exceptions view: categories, fingerprints with their labels, and exception events over time. */
export function buildExceptionsDashboard(): Dashboard {
  const dashboard = createDashboard(EXCEPTIONS_UID, 'syncwatch: exceptions')
    .description('Exceptions grouped by cause: one fingerprint per template, its category, whether a retry helps, and how often it occurred.')
    .withVariable(buildPlantVariable())
    .withVariable(buildIntegrationVariable())
    .withVariable(buildWorkflowVariable())
    .withPanel(
      statPanel('Unclassified fingerprints', UNCLASSIFIED_COUNT_SQL)
        .height(7)
        .span(4),
    )
    .withPanel(
      statPanel('Retryable share of occurrences', RETRYABLE_SHARE_SQL)
        .unit('percentunit')
        .height(7)
        .span(4),
    )
    .withPanel(
      tablePanel('Exceptions by category', EXCEPTIONS_BY_CATEGORY_SQL)
        .height(7)
        .span(16),
    )
    .withPanel(
      timeseriesPanel('Span exceptions per type', SPAN_EXCEPTIONS_SQL)
        .unit('short')
        .height(8)
        .span(24),
    )
    .withPanel(
      tablePanel('Fingerprints', FINGERPRINTS_SQL)
        .height(10)
        .span(24),
    )
    .build();
  return numberPanels(dashboard);
}
