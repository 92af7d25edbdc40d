import { isIP } from 'node:net';
import { context, propagation, SpanKind, SpanStatusCode, trace, type Attributes, type Span } from '@opentelemetry/api';
import type { BatchInserter } from '../collector/ingest/index.js';
import type { LagSource } from '../collector/sources/index.js';
import type { Logger } from './logger.js';
import type { SourcePollOutcome, SyncwatchMetrics } from './metrics.js';

/**
 * Environment variable with the OTLP/HTTP endpoint that receives syncwatch's
 * own traces, as a base URL such as `http://127.0.0.1:14318` (the exporter
 * adds `/v1/traces`) or a full `.../v1/traces` URL. Unset or empty turns
 * self-tracing off, which is the default.
 */
export const SELF_OTLP_ENDPOINT_ENV = 'SYNCWATCH_SELF_OTLP_ENDPOINT';

/** `service.name` of syncwatch's own spans. */
export const SELF_SERVICE_NAME = 'syncwatch';

const TRACES_PATH = '/v1/traces';

/** Instrumentation scope of syncwatch's own spans. */
const TRACER_NAME = 'syncwatch';

export interface SelfTelemetryOptions {
  logger: Logger;
  /** Endpoint from `SYNCWATCH_SELF_OTLP_ENDPOINT`. Undefined or empty leaves self-tracing off. */
  endpoint?: string;
  /** URL of this service's own OTLP receiver, so an endpoint pointing at it can be rejected. */
  ownOtlpUrl?: string;
}

/** Handle of the self-tracing SDK. */
export interface SelfTelemetry {
  /** The URL spans are exported to, or undefined when self-tracing is off. */
  readonly tracesUrl: string | undefined;
  /** Exports the spans still buffered and unregisters the SDK. */
  shutdown(): Promise<void>;
}

const DISABLED: SelfTelemetry = { tracesUrl: undefined, shutdown: async () => {} };

/**
 * Starts `@opentelemetry/sdk-node` with one OTLP/HTTP protobuf trace exporter
 * when `endpoint` is set. Metric and log exporters stay off, because the SDK
 * (0.223) would otherwise default them to OTLP on localhost:4318, which is
 * syncwatch's own port. An endpoint that is this service's own receiver is
 * rejected with a warning, because every export request would create a
 * receiver span to export again, an endless loop of self-traffic.
 * Returns a disabled handle for an invalid or rejected endpoint. The SDK is
 * imported only here, because loading it added about 20 MiB each of RSS and
 * heap, which a service without self-tracing does not need.
 */
export async function startSelfTelemetry(options: SelfTelemetryOptions): Promise<SelfTelemetry> {
  const { logger } = options;
  const endpoint = options.endpoint?.trim() ?? '';
  if (endpoint === '') return DISABLED;

  let tracesUrl: URL;
  try {
    tracesUrl = toTracesUrl(endpoint);
  } catch (error) {
    logger.warn({ endpoint, err: error }, `self-tracing disabled: ${SELF_OTLP_ENDPOINT_ENV} is not an http(s) URL`);
    return DISABLED;
  }
  if (options.ownOtlpUrl && isSameListener(tracesUrl, new URL(options.ownOtlpUrl))) {
    logger.warn(
      { endpoint: tracesUrl.href, ownOtlpUrl: options.ownOtlpUrl },
      `self-tracing disabled: ${SELF_OTLP_ENDPOINT_ENV} points at this service's own receiver`,
    );
    return DISABLED;
  }

  const [{ NodeSDK }, { OTLPTraceExporter }] = await Promise.all([
    import('@opentelemetry/sdk-node'),
    import('@opentelemetry/exporter-trace-otlp-proto'),
  ]);
  const sdk = new NodeSDK({
    serviceName: SELF_SERVICE_NAME,
    traceExporter: new OTLPTraceExporter({ url: tracesUrl.href }),
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [],
  });
  sdk.start();
  logger.info({ tracesUrl: tracesUrl.href }, 'self-tracing started');

  return {
    tracesUrl: tracesUrl.href,
    async shutdown() {
      try {
        await sdk.shutdown();
      } catch (error) {
        logger.warn({ err: error, tracesUrl: tracesUrl.href }, 'self-tracing export failed at shutdown');
      }
      // Unregistering lets a later service in the same process register its own SDK.
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}

/**
 * Runs `work` inside an active span named `name`, for syncwatch's own work
 * such as an insert or a poll. A rejection marks the span as an error and is
 * rethrown. Without a started SDK the span is a no-op and is dropped.
 */
export async function withSpan<T>(
  name: string,
  attributes: Attributes,
  work: (span: Span) => Promise<T>,
  kind: SpanKind = SpanKind.INTERNAL,
): Promise<T> {
  // The tracer is looked up per span, because `shutdown` replaces the global
  // provider and a tracer kept from before would go on using the old one.
  return trace.getTracer(TRACER_NAME).startActiveSpan(name, { attributes, kind }, async (span) => {
    try {
      return await work(span);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      span.setStatus({ code: SpanStatusCode.ERROR, message });
      if (error instanceof Error) span.recordException(error);
      throw error;
    } finally {
      span.end();
    }
  });
}

/** Wraps `inserter` so each batch insert is a client span named after its table. */
export function traceBatchInserter(inserter: BatchInserter): BatchInserter {
  return {
    insert: (table, batch) =>
      withSpan(
        `INSERT ${table}`,
        {
          'db.system.name': 'clickhouse',
          'db.operation.name': 'INSERT',
          'db.collection.name': table,
          'syncwatch.batch.id': batch.batchId,
          'syncwatch.batch.rows': batch.rowCount,
          'syncwatch.batch.bytes': batch.body.length,
        },
        () => inserter.insert(table, batch),
        SpanKind.CLIENT,
      ),
  };
}

/**
 * Wraps `source` so each poll is a span named after the source kind, with
 * the source name and the sample counts as attributes, and is counted in
 * `metrics` as `ok`, `down` or `error`. Every other property and method
 * reaches the source itself, so class-private state keeps working.
 *
 * NOTE: a poll that the scheduler abandons at its time limit is counted with
 * the outcome it settles with later, never as `timeout`.
 */
export function instrumentLagSource(source: LagSource, metrics: SyncwatchMetrics): LagSource {
  const attributes = { 'syncwatch.source.name': source.name, 'syncwatch.source.kind': source.kind };
  const poll: LagSource['poll'] = (now) =>
    withSpan(`poll ${source.kind}`, attributes, async (span) => {
      let outcome: SourcePollOutcome = 'error';
      try {
        const result = await source.poll(now);
        const downSamples = result.samples.filter((sample) => sample.status === 'source_down').length;
        outcome = downSamples > 0 ? 'down' : 'ok';
        span.setAttributes({
          'syncwatch.poll.samples': result.samples.length,
          'syncwatch.poll.down_samples': downSamples,
          'syncwatch.poll.failures': result.failures.length,
        });
        return result;
      } finally {
        metrics.countSourcePoll(source.name, outcome);
      }
    });
  return new Proxy(source, {
    get(target, property) {
      if (property === 'poll') return poll;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** Returns true for a host name or address that only reaches this machine. */
export function isLoopbackHost(host: string): boolean {
  const name = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  if (isIP(name) === 4) return name.startsWith('127.');
  if (isIP(name) === 6) return name === '::1' || name.startsWith('::ffff:127.');
  return false;
}

function toTracesUrl(endpoint: string): URL {
  const url = new URL(endpoint);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(`expected an http or https URL, received ${url.protocol}`);
  }
  if (!url.pathname.endsWith(TRACES_PATH)) {
    url.pathname = `${url.pathname.replace(/\/+$/, '')}${TRACES_PATH}`;
  }
  return url;
}

/**
 * Compares host and port. Two loopback names count as the same host.
 * NOTE: a receiver bound to 0.0.0.0 and reached through one of the machine's
 * other addresses is not recognised.
 */
function isSameListener(target: URL, own: URL): boolean {
  if (effectivePort(target) !== effectivePort(own)) return false;
  if (target.hostname === own.hostname) return true;
  return isLoopbackHost(target.hostname) && isLoopbackHost(own.hostname);
}

function effectivePort(url: URL): string {
  if (url.port !== '') return url.port;
  return url.protocol === 'https:' ? '443' : '80';
}
