import {
  createNatsJetstreamSource,
  NATS_JETSTREAM_SOURCE_KIND,
  type NatsJetstreamSourceConfigInput,
} from './nats-jetstream.js';
import {
  createOdooApiSource,
  ODOO_API_SOURCE_KIND,
  type OdooApiSourceConfigInput,
} from './odoo-api.js';
import {
  createOutboxSource,
  OUTBOX_SOURCE_KIND,
  type OutboxSourceConfigInput,
} from './outbox.js';
import {
  createPrometheusSource,
  PROMETHEUS_SOURCE_KIND,
  type PrometheusSourceConfigInput,
} from './prometheus.js';
import {
  createHttpProbeSource,
  HTTP_PROBE_SOURCE_KIND,
  type HttpProbeSourceConfigInput,
} from './http-probe.js';
import {
  createQueueJobSource,
  QUEUE_JOB_SOURCE_KIND,
  type QueueJobSourceConfigInput,
} from './queue-job.js';
import {
  createRabbitmqSource,
  RABBITMQ_SOURCE_KIND,
  type RabbitmqSourceConfigInput,
  type SourceDeps,
} from './rabbitmq.js';
import {
  createRedisStreamsSource,
  REDIS_STREAMS_SOURCE_KIND,
  type RedisStreamsSourceConfigInput,
} from './redis-streams.js';
import type { LagSource } from './types.js';

/** Config of any pull source, distinguished by `kind`. */
export type SourceConfigInput =
  | RabbitmqSourceConfigInput
  | QueueJobSourceConfigInput
  | HttpProbeSourceConfigInput
  | PrometheusSourceConfigInput
  | OutboxSourceConfigInput
  | NatsJetstreamSourceConfigInput
  | RedisStreamsSourceConfigInput
  | OdooApiSourceConfigInput;

/** Creates the pull source that `config.kind` names. */
export function createSource(config: SourceConfigInput, deps: SourceDeps = {}): LagSource {
  switch (config.kind) {
    case RABBITMQ_SOURCE_KIND:
      return createRabbitmqSource(config, deps);
    case QUEUE_JOB_SOURCE_KIND:
      return createQueueJobSource(config, deps);
    case HTTP_PROBE_SOURCE_KIND:
      return createHttpProbeSource(config, deps);
    case PROMETHEUS_SOURCE_KIND:
      return createPrometheusSource(config, deps);
    case OUTBOX_SOURCE_KIND:
      return createOutboxSource(config, deps);
    case NATS_JETSTREAM_SOURCE_KIND:
      return createNatsJetstreamSource(config, deps);
    case REDIS_STREAMS_SOURCE_KIND:
      return createRedisStreamsSource(config, deps);
    case ODOO_API_SOURCE_KIND:
      return createOdooApiSource(config, deps);
  }
}
