import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';

type ExportCallback = Parameters<SpanExporter['export']>[1];

/** `ExportResultCode.SUCCESS` of @opentelemetry/core, which is not a direct dependency. */
const EXPORT_SUCCESS = 0;

/**
 * Wraps a real exporter and records the span ids of every export the
 * collector acknowledged with a 2xx, as the exporter reports it.
 */
export class AcknowledgingExporter implements SpanExporter {
  readonly acknowledgedSpanIds = new Set<string>();
  readonly sentSpanIds = new Set<string>();
  failedExports = 0;
  readonly #inner: SpanExporter;

  constructor(inner: SpanExporter) {
    this.#inner = inner;
  }

  export(spans: ReadableSpan[], resultCallback: ExportCallback): void {
    for (const span of spans) this.sentSpanIds.add(span.spanContext().spanId);
    this.#inner.export(spans, (result) => {
      if (result.code === EXPORT_SUCCESS) {
        for (const span of spans) this.acknowledgedSpanIds.add(span.spanContext().spanId);
      } else {
        this.failedExports++;
      }
      resultCallback(result);
    });
  }

  shutdown(): Promise<void> {
    return this.#inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.#inner.forceFlush?.() ?? Promise.resolve();
  }
}
