export {
  baseSourceFields,
  MIN_POLL_INTERVAL_MS,
  resolveIntervalMs,
} from './common.js';
export { createSource, type SourceConfigInput } from './create-source.js';
export { SOURCE_ERROR_CODES, SourceError, type SourceErrorCode } from './errors.js';
export {
  createNatsJetstreamSource,
  DEFAULT_NATS_JETSTREAM_POLL_INTERVAL_MS,
  DEFAULT_NATS_JETSTREAM_TIMEOUT_MS,
  NATS_JETSTREAM_SOURCE_KIND,
  NatsJetstreamSource,
  natsJetstreamSourceConfigSchema,
  type NatsJetstreamSourceConfig,
  type NatsJetstreamSourceConfigInput,
  type NatsJetstreamSourceDeps,
} from './nats-jetstream.js';
export {
  createOutboxSource,
  DEFAULT_OUTBOX_POLL_INTERVAL_MS,
  DEFAULT_OUTBOX_TIMEOUT_MS,
  NULL_GROUP_ENTITY,
  OUTBOX_SOURCE_KIND,
  OutboxSource,
  outboxSourceConfigSchema,
  type OutboxSourceConfig,
  type OutboxSourceConfigInput,
  type OutboxSourceDeps,
} from './outbox.js';
export {
  createOdooApiSource,
  DEFAULT_ODOO_API_POLL_INTERVAL_MS,
  DEFAULT_ODOO_API_TIMEOUT_MS,
  DEFAULT_ODOO_JOB_MODEL,
  ODOO_API_SOURCE_KIND,
  OdooApiSource,
  odooApiSourceConfigSchema,
  type OdooApiSourceConfig,
  type OdooApiSourceConfigInput,
  type OdooApiSourceDeps,
} from './odoo-api.js';
export {
  ETA_SCAN_MAX_ROWS,
  ETA_SCAN_PAGE_ROWS,
  formatOdooDatetime,
  ODOO_GROUP_METHODS,
  parseOdooDatetime,
  readOdooJobQueue,
  type OdooClockSource,
  type OdooFailedJob,
  type OdooGroupMethod,
  type OdooJobGroupStats,
  type OdooJobQueueReadOptions,
  type OdooJobQueueSnapshot,
} from './odoo-job-reader.js';
export {
  createOdooClient,
  isOdooAccessDenied,
  ODOO_AUTH_METHODS,
  ODOO_ERROR_CODES,
  ODOO_PROTOCOLS,
  OdooRpcError,
  type OdooAuthMethod,
  type OdooCallResult,
  type OdooConnectionOptions,
  type OdooErrorCode,
  type OdooModelClient,
  type OdooProtocol,
} from './odoo-rpc-client.js';
export {
  createPrometheusSource,
  DEFAULT_DISAPPEARED_RETENTION_MS,
  DEFAULT_PROMETHEUS_POLL_INTERVAL_MS,
  DEFAULT_PROMETHEUS_TIMEOUT_MS,
  MAX_SCRAPE_BYTES,
  PROMETHEUS_SOURCE_KIND,
  PrometheusSource,
  prometheusSourceConfigSchema,
  type PrometheusSourceConfig,
  type PrometheusSourceConfigInput,
  type PrometheusSourceDeps,
} from './prometheus.js';
export {
  applyMappings,
  PROMETHEUS_MAPPED_FIELDS,
  prometheusMappingSchema,
  type CounterReading,
  type EntityReading,
  type MappingResult,
  type PrometheusMappedField,
  type PrometheusMapping,
  type PrometheusMappingInput,
} from './prometheus-mapping.js';
export { PROMETHEUS_PRESET_NAMES, PROMETHEUS_PRESETS, type PrometheusPresetName } from './prometheus-presets.js';
export {
  ExpositionParseError,
  isCounterSample,
  parseExposition,
  type Exposition,
  type ExpositionFamily,
  type ExpositionSample,
  type MetricType,
} from './prometheus-text.js';
export {
  createHttpProbeSource,
  DEFAULT_HTTP_PROBE_POLL_INTERVAL_MS,
  DEFAULT_HTTP_PROBE_TIMEOUT_MS,
  DEFAULT_TLS_WARN_DAYS,
  HTTP_PROBE_SOURCE_KIND,
  HttpProbeSource,
  httpProbeSourceConfigSchema,
  type HttpProbeSourceConfig,
  type HttpProbeSourceConfigInput,
  type HttpProbeSourceDeps,
} from './http-probe.js';
export {
  MAX_PROBE_BODY_BYTES,
  sendProbe,
  type ProbeCertificate,
  type ProbeOutcome,
  type ProbeRequest,
} from './http-probe-request.js';
export {
  buildJobGroupKey,
  COUNTED_JOB_STATES,
  JobQueueSampleBuilder,
  MAX_EXCEPTION_MESSAGE_CHARS,
  parseExceptionInfo,
  type CountedJobState,
  type FailedJob,
  type JobGroup,
  type JobGroupStats,
} from './job-queue-samples.js';
export {
  createQueueJobSource,
  DEFAULT_ENQUEUED_STUCK_AFTER_SECONDS,
  DEFAULT_MAX_FAILURES_PER_POLL,
  DEFAULT_QUEUE_JOB_POLL_INTERVAL_MS,
  DEFAULT_QUEUE_JOB_TIMEOUT_MS,
  DEFAULT_STARTED_STUCK_AFTER_SECONDS,
  openReadOnlyPool,
  QUEUE_JOB_SOURCE_KIND,
  QueueJobSource,
  queueJobSourceConfigSchema,
  type QueueJobSourceConfig,
  type QueueJobSourceConfigInput,
  type QueueJobSourceDeps,
} from './queue-job.js';
export {
  estimateQueueLag,
  type QueueLagEstimate,
  type QueueLagHistory,
  type QueueReading,
} from './queue-lag-estimate.js';
export {
  AMQP_UNACKED_NOT_VISIBLE_DETAIL,
  createRabbitmqSource,
  DEFAULT_RABBITMQ_POLL_INTERVAL_MS,
  DEFAULT_RABBITMQ_TIMEOUT_MS,
  RABBITMQ_SOURCE_KIND,
  RabbitmqSource,
  rabbitmqSourceConfigSchema,
  type RabbitmqSourceConfig,
  type RabbitmqSourceConfigInput,
  type SourceDeps,
} from './rabbitmq.js';
export {
  createRedisStreamsSource,
  DEFAULT_REDIS_STREAMS_POLL_INTERVAL_MS,
  DEFAULT_REDIS_STREAMS_TIMEOUT_MS,
  REDIS_STREAMS_SOURCE_KIND,
  RedisStreamsSource,
  redisStreamsSourceConfigSchema,
  type RedisStreamsSourceConfig,
  type RedisStreamsSourceConfigInput,
  type RedisStreamsSourceDeps,
} from './redis-streams.js';
export {
  DEFAULT_POLL_TIMEOUT_MS,
  MAX_CONCURRENT_POLLS,
  startSourcePolling,
  type LagBatch,
  type LagSink,
  type PollOutcome,
  type PollRecord,
  type SourcePolling,
  type SourcePollingOptions,
  type SourcePollStats,
} from './scheduler.js';
export { ConcurrencyLimiter } from './concurrency-limiter.js';
export {
  addCondition,
  applySampleConditions,
  clampLagSeconds,
  DEFAULT_SERIES_RETENTION_MS,
  SeriesTracker,
  WHOLE_SOURCE_ENTITY,
  type SeriesChanges,
} from './lag-conditions.js';
export {
  addJitter,
  BACKOFF_MULTIPLIER,
  computeBaseDelayMs,
  computeFirstPollDelayMs,
  MAX_BACKOFF_MS,
  POLL_JITTER_RATIO,
  type RandomFunction,
} from './poll-timing.js';
export type { FailureRecord, LagCondition, LagSample, LagSource, LagStatus, PollResult } from './types.js';
export {
  detectUnackedStall,
  type UnackedHistory,
  type UnackedReading,
  type UnackedStall,
} from './unacked-stall.js';
