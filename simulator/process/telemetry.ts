import { propagation, type Context } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { hostDetector, processDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import {
  BatchSpanProcessor,
  type ReadableSpan,
  type Span,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import type { SystemProcessConfig } from '../process-protocol.js';

/**
 * Baggage entries that identify a business transaction. Every span started
 * inside a transaction copies them as attributes of the same name.
 */
export const TRANSACTION_BAGGAGE_KEYS = [
  'syncwatch.correlation_id',
  'syncwatch.idempotency_key',
  'syncwatch.workflow',
  'syncwatch.plant',
  'syncwatch.integration',
] as const;

/** Copies the transaction's baggage entries onto each span as it starts. */
class BaggageAttributeSpanProcessor implements SpanProcessor {
  onStart(span: Span, parentContext: Context): void {
    const baggage = propagation.getBaggage(parentContext);
    if (!baggage) return;

    for (const key of TRANSACTION_BAGGAGE_KEYS) {
      const entry = baggage.getEntry(key);
      if (entry) span.setAttribute(key, entry.value);
    }
  }

  onEnd(_span: ReadableSpan): void {}

  async forceFlush(): Promise<void> {}

  async shutdown(): Promise<void> {}
}

/**
 * Starts the OpenTelemetry Node SDK for one system process: HTTP
 * instrumentation, W3C trace context and baggage propagation, and spans
 * exported as OTLP protobuf to the collector. Must run before fastify is
 * loaded, so the `http` module it requires is already instrumented.
 */
export function startTelemetry(config: SystemProcessConfig): NodeSDK {
  const attributes: Record<string, string> = {
    'service.name': config.system,
    'service.namespace': 'syncwatch-demo',
    'service.instance.id': config.instanceId,
    'deployment.environment': 'demo',
    'deployment.environment.name': 'demo',
  };
  if (config.plant) attributes['syncwatch.plant'] = config.plant;

  const exporter = new OTLPTraceExporter({ url: config.otlpEndpoint });
  const sdk = new NodeSDK({
    resource: resourceFromAttributes(attributes),
    // Without the environment detector, so OTEL_SERVICE_NAME cannot rename a system.
    resourceDetectors: [hostDetector, processDetector],
    spanProcessors: [
      new BaggageAttributeSpanProcessor(),
      new BatchSpanProcessor(exporter, { scheduledDelayMillis: config.spanExportIntervalMs }),
    ],
    instrumentations: [new HttpInstrumentation()],
    // Traces only: no metric readers or log processors, whatever the OTEL_* variables set.
    metricReaders: [],
    logRecordProcessors: [],
  });
  sdk.start();
  return sdk;
}
