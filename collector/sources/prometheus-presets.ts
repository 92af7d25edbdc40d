import type { PrometheusMappingInput } from './prometheus-mapping.js';

/**
 * Mappings for RabbitMQ's own `rabbitmq_prometheus` plugin (metric names as
 * of RabbitMQ 3.10), one entity per queue. The plugin's `/metrics` endpoint
 * aggregates queues into one series by default. Scrape `/metrics/per-object`,
 * `/metrics/detailed?family=queue_coarse_metrics&family=queue_consumer_count`
 * or set `prometheus.return_per_object_metrics = true` to get a `queue`
 * label. Queues of the same name in several virtual hosts are summed unless
 * `match` selects one `vhost`.
 */
const RABBITMQ_MAPPINGS: PrometheusMappingInput[] = [
  { metric: 'rabbitmq_queue_messages_ready', entityLabels: ['queue'], field: 'depth' },
  { metric: 'rabbitmq_queue_messages_unacked', entityLabels: ['queue'], field: 'inFlight' },
  { metric: 'rabbitmq_queue_consumers', entityLabels: ['queue'], field: 'consumers' },
  // The message `timestamp` property, in seconds; NaN while the queue is empty or the head is unstamped.
  { metric: 'rabbitmq_queue_head_message_timestamp', entityLabels: ['queue'], field: 'headTimestamp' },
  { metric: 'rabbitmq_queue_messages_published_total', entityLabels: ['queue'], field: 'inflowPerSecond' },
  // Deliveries are counted per channel and queue, and summed per queue here.
  { metric: 'rabbitmq_channel_messages_delivered_ack_total', entityLabels: ['queue'], field: 'outflowPerSecond' },
  { metric: 'rabbitmq_channel_messages_delivered_total', entityLabels: ['queue'], field: 'outflowPerSecond' },
  // The `/metrics/detailed` endpoint names the same gauges with a `rabbitmq_detailed_` prefix.
  { metric: 'rabbitmq_detailed_queue_messages_ready', entityLabels: ['queue'], field: 'depth' },
  { metric: 'rabbitmq_detailed_queue_messages_unacked', entityLabels: ['queue'], field: 'inFlight' },
  { metric: 'rabbitmq_detailed_queue_consumers', entityLabels: ['queue'], field: 'consumers' },
];

/**
 * Mappings for the Kafka exporter (`kafka_exporter`), one entity per
 * consumer group and topic (`group/topic`). Offset lag is summed over the
 * partitions. The committed offset is a gauge there, and its rate between
 * scrapes is the group's drain rate. `kafka_consumergroup_lag_seconds`
 * comes from other lag exporters and is used when the endpoint has it.
 */
const KAFKA_EXPORTER_MAPPINGS: PrometheusMappingInput[] = [
  { metric: 'kafka_consumergroup_lag', entityLabels: ['consumergroup', 'topic'], field: 'depth' },
  { metric: 'kafka_consumergroup_lag_seconds', entityLabels: ['consumergroup', 'topic'], field: 'lagSeconds' },
  {
    metric: 'kafka_consumergroup_current_offset',
    entityLabels: ['consumergroup', 'topic'],
    field: 'outflowPerSecond',
    rate: true,
  },
];

export const PROMETHEUS_PRESETS = {
  rabbitmq: RABBITMQ_MAPPINGS,
  kafka_exporter: KAFKA_EXPORTER_MAPPINGS,
} as const satisfies Record<string, PrometheusMappingInput[]>;

export type PrometheusPresetName = keyof typeof PROMETHEUS_PRESETS;

export const PROMETHEUS_PRESET_NAMES = Object.keys(PROMETHEUS_PRESETS) as [PrometheusPresetName, ...PrometheusPresetName[]];
