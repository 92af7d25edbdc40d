import { describe, expect, it } from 'vitest';
import { createMetricsRegistry, NOOP_METRICS } from '../../../server/metrics.js';

describe('createMetricsRegistry', () => {
  it('serializes every metric family', async () => {
    const metrics = createMetricsRegistry({ includeProcessMetrics: false });
    metrics.setQueueDepth('otel_traces', 42);
    metrics.observeBatchSize('otel_traces', 1500);
    metrics.observeInsertDuration('otel_traces', 0.2, 'ok');
    metrics.setSpoolBytes(4096);
    metrics.countRowsAccepted('otel_traces', 10);
    metrics.countRowsRejected('otel_traces', 'COLLECTOR_ERR_INVALID_SPAN', 2);
    metrics.countRowsDropped('otel_traces', 'spool_corrupt', 1);
    metrics.countOtlpRequest(400, 'COLLECTOR_ERR_INVALID_PROTOBUF');
    metrics.countSourcePoll('orders-queue', 'down');

    const text = await metrics.serialize();

    expect(metrics.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(text).toContain('syncwatch_ingest_queue_rows{table="otel_traces"} 42');
    expect(text).toContain('syncwatch_ingest_batch_rows_bucket{le="2000",table="otel_traces"} 1');
    expect(text).toContain('syncwatch_insert_duration_seconds_count{table="otel_traces",outcome="ok"} 1');
    expect(text).toContain('syncwatch_spool_bytes 4096');
    expect(text).toContain('syncwatch_rows_accepted_total{table="otel_traces"} 10');
    expect(text).toContain('syncwatch_rows_rejected_total{table="otel_traces",reason="COLLECTOR_ERR_INVALID_SPAN"} 2');
    expect(text).toContain('syncwatch_rows_dropped_total{table="otel_traces",reason="spool_corrupt"} 1');
    expect(text).toContain('syncwatch_otlp_requests_total{status_code="400",error_code="COLLECTOR_ERR_INVALID_PROTOBUF"} 1');
    expect(text).toContain('syncwatch_source_polls_total{source="orders-queue",outcome="down"} 1');
  });

  it('ignores negative and non-finite counts', async () => {
    const metrics = createMetricsRegistry({ includeProcessMetrics: false });

    expect(() => metrics.countRowsAccepted('otel_traces', -5)).not.toThrow();
    expect(() => metrics.setSpoolBytes(Number.NaN)).not.toThrow();
    expect(() => metrics.observeInsertDuration('otel_traces', -1, 'error')).not.toThrow();

    const text = await metrics.serialize();
    expect(text).toContain('syncwatch_rows_accepted_total{table="otel_traces"} 0');
    expect(text).toContain('syncwatch_spool_bytes 0');
  });

  it('keeps registries apart', async () => {
    const first = createMetricsRegistry({ includeProcessMetrics: false });
    const second = createMetricsRegistry({ includeProcessMetrics: false });
    first.countRowsAccepted('otel_traces', 3);

    expect(await second.serialize()).not.toContain('syncwatch_rows_accepted_total{table="otel_traces"} 3');
  });

  it('includes process metrics by default', async () => {
    const metrics = createMetricsRegistry();

    expect(await metrics.serialize()).toContain('syncwatch_process_resident_memory_bytes');
  });
});

describe('NOOP_METRICS', () => {
  it('accepts every call', () => {
    expect(() => {
      NOOP_METRICS.setQueueDepth('otel_traces', 1);
      NOOP_METRICS.countSourcePoll('orders-queue', 'ok');
    }).not.toThrow();
  });
});
