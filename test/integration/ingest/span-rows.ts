import { randomBytes } from 'node:crypto';
import type { OtelTraceRow } from '../../../collector/otlp/to-trace-rows.js';

/** Builds `count` distinct `otel_traces` rows; `attributes` go into every row's SpanAttributes. */
export function buildSpanRows(count: number, attributes: Record<string, string> = {}): OtelTraceRow[] {
  const traceId = randomBytes(16).toString('hex');
  const startSeconds = Math.floor(Date.now() / 1000);
  return Array.from({ length: count }, (_, index) => ({
    Timestamp: `${startSeconds}.${String(index).padStart(9, '0')}`,
    TraceId: traceId,
    SpanId: randomBytes(8).toString('hex'),
    ParentSpanId: '',
    TraceState: '',
    SpanName: 'mrp.production release',
    SpanKind: 'Server',
    ServiceName: 'odoo',
    ResourceAttributes: { 'service.name': 'odoo' },
    ScopeName: 'ingest-test',
    ScopeVersion: '1.0.0',
    SpanAttributes: { ...attributes },
    Duration: '1000000',
    StatusCode: 'Unset',
    StatusMessage: '',
    'Events.Timestamp': [],
    'Events.Name': [],
    'Events.Attributes': [],
    'Links.TraceId': [],
    'Links.SpanId': [],
    'Links.TraceState': [],
    'Links.Attributes': [],
  }));
}

/** Encodes rows as a JSONEachRow body, as the batcher does. */
export function encodeRows(rows: readonly object[]): Buffer {
  return Buffer.from(rows.map((row) => JSON.stringify(row)).join('\n'));
}
