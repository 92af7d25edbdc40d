export {
  CLICKHOUSE_DATASOURCE,
  CLICKHOUSE_DATASOURCE_TYPE,
  CLICKHOUSE_DATASOURCE_UID,
  CLICKHOUSE_FORMAT,
  ClickHouseQueryBuilder,
  DASHBOARD_TAGS,
  DEFAULT_REFRESH,
  DEFAULT_TIME_FROM,
  DEFAULT_TIME_TO,
  INTEGRATION_VARIABLE_QUERY,
  NO_PLANT_VALUE,
  PLANT_EXPRESSION,
  PLANT_VARIABLE_QUERY,
  VARIABLE_NAMES,
  WORKFLOW_VARIABLE_QUERY,
  buildIntegrationVariable,
  buildPlantVariable,
  buildTraceIdVariable,
  buildWorkflowVariable,
  createDashboard,
  numberPanels,
  type ClickHouseFormat,
  type ClickHouseQuery,
  type ClickHouseQueryType,
} from './defaults.js';
export {
  ANOMALIES_UID,
  ANOMALY_POINTS_SQL,
  ANOMALY_SCORE_SQL,
  BREACH_PROBABILITY_SQL,
  INCIDENT_HISTORY_SQL,
  LATEST_PREDICTIONS_SQL,
  OPEN_INCIDENTS_SQL,
  OPEN_INCIDENT_COUNT_SQL,
  PREDICTION_OUTCOMES_SQL,
  buildAnomaliesDashboard,
} from './anomalies.js';
export {
  EXCEPTIONS_BY_CATEGORY_SQL,
  EXCEPTIONS_UID,
  FINGERPRINTS_SQL,
  RETRYABLE_SHARE_SQL,
  SPAN_EXCEPTIONS_SQL,
  UNCLASSIFIED_COUNT_SQL,
  buildExceptionsDashboard,
} from './exceptions.js';
export { MACRO_ERROR_CODE, MacroExpansionError, expandMacros, type MacroContext } from './expand-macros.js';
export {
  ENTITY_LAG_SQL,
  ENTITY_STATE_SQL,
  FAILURES_BY_EXCEPTION_SQL,
  INTEGRATION_DRILL_DOWN_UID,
  INTEGRATION_FAILURES_SQL,
  TRACE_SEARCH_LIMIT,
  TRACE_SEARCH_SQL,
  TRACE_SPANS_SQL,
  buildIntegrationDrillDownDashboard,
} from './integration-drill-down.js';
export {
  BREACHING_WORKFLOWS_SQL,
  FAILURE_RETRIES_SQL,
  INTEGRATION_LAG_SQL,
  INTEGRATION_QUEUE_DEPTH_SQL,
  LATENCY_PERCENTILES_SQL,
  NETWORK_OVERVIEW_UID,
  SLO_STATUS_SQL,
  SOURCE_HEALTH_SQL,
  SPAN_ERROR_RATE_SQL,
  SPAN_THROUGHPUT_SQL,
  TRANSACTION_THROUGHPUT_SQL,
  buildNetworkOverviewDashboard,
} from './network-overview.js';
export {
  DASHBOARD_FOLDER,
  DASHBOARD_SCAN_INTERVAL_SECONDS,
  GRAFANA_DASHBOARDS_PATH,
  renderDashboardProviderYaml,
  renderDatasourceYaml,
} from './provisioning.js';
export { DASHBOARDS, type DashboardDefinition } from './registry.js';
export {
  AUDIT_LOG_SQL,
  DECISIONS_OVER_TIME_SQL,
  PROPOSALS_BY_STATUS_SQL,
  PROPOSALS_SQL,
  REFUSED_DECISIONS_SQL,
  REMEDIATION_UID,
  buildRemediationDashboard,
} from './remediation.js';
export { ANALYZER_SCOPE_FILTER } from './scope.js';
export { writeDashboardFiles, type WrittenDashboardFiles } from './write-dashboards.js';
