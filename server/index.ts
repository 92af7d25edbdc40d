export { buildApiServer, type ApiServerOptions } from './api-server.js';
export { authorize, type ApiToken } from './auth.js';
export { API_ERRORS, ApiError, type ApiErrorCode } from './errors.js';
export { createLogger, type Logger } from './logger.js';
export {
  BATCH_SIZE_BUCKETS_ROWS,
  createMetricsRegistry,
  INSERT_DURATION_BUCKETS_SECONDS,
  METRIC_PREFIX,
  NOOP_METRICS,
  type InsertOutcome,
  type MetricsOptions,
  type MetricsRegistry,
  type SourcePollOutcome,
  type SyncwatchMetrics,
} from './metrics.js';
export {
  ensureLocalApiToken,
  readLiveServiceRecord,
  readLocalApiToken,
  removeServiceRecord,
  writeServiceRecord,
  type ServiceRecord,
} from './runtime-files.js';
export { startService, type RunningService, type ServiceOptions } from './service.js';
export {
  instrumentLagSource,
  isLoopbackHost,
  SELF_OTLP_ENDPOINT_ENV,
  SELF_SERVICE_NAME,
  startSelfTelemetry,
  traceBatchInserter,
  withSpan,
  type SelfTelemetry,
  type SelfTelemetryOptions,
} from './telemetry.js';
export { assertReadOnlyQuery, RejectedQueryError, type CheckedQuery } from './sql-guard.js';
export { MAX_RESULT_ROWS, registerSqlRoute, runReadOnlyQuery, type SqlRequest, type SqlResponse } from './sql-route.js';
