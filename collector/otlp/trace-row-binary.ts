import type { EncodedRows } from '../ingest/insert-batch.js';
import { encodeRowBinaryHeader, RowBinaryWriter, type RowBinaryColumn } from '../ingest/row-binary.js';
import { formatAttributeValue } from './attribute-values.js';
import { readServiceName, SPAN_KIND_NAMES, STATUS_CODE_NAMES } from './to-trace-rows.js';
import type { OtlpAnyValue, OtlpKeyValue, OtlpSpan, OtlpTraceRequest } from './types.js';

const ATTRIBUTE_MAP = 'Map(LowCardinality(String), String)';

/**
 * The `otel_traces` columns a RowBinary trace row holds, in order. The rows
 * store the same values as the JSONEachRow rows of `toTraceRows`.
 */
export const TRACE_ROW_BINARY_COLUMNS: readonly RowBinaryColumn[] = [
  { name: 'Timestamp', type: 'DateTime64(9)' },
  { name: 'TraceId', type: 'String' },
  { name: 'SpanId', type: 'String' },
  { name: 'ParentSpanId', type: 'String' },
  { name: 'TraceState', type: 'String' },
  { name: 'SpanName', type: 'LowCardinality(String)' },
  { name: 'SpanKind', type: 'LowCardinality(String)' },
  { name: 'ServiceName', type: 'LowCardinality(String)' },
  { name: 'ResourceAttributes', type: ATTRIBUTE_MAP },
  { name: 'ScopeName', type: 'String' },
  { name: 'ScopeVersion', type: 'String' },
  { name: 'SpanAttributes', type: ATTRIBUTE_MAP },
  { name: 'Duration', type: 'UInt64' },
  { name: 'StatusCode', type: 'LowCardinality(String)' },
  { name: 'StatusMessage', type: 'String' },
  { name: 'Events.Timestamp', type: 'Array(DateTime64(9))' },
  { name: 'Events.Name', type: 'Array(LowCardinality(String))' },
  { name: 'Events.Attributes', type: `Array(${ATTRIBUTE_MAP})` },
  { name: 'Links.TraceId', type: 'Array(String)' },
  { name: 'Links.SpanId', type: 'Array(String)' },
  { name: 'Links.TraceState', type: 'Array(String)' },
  { name: 'Links.Attributes', type: `Array(${ATTRIBUTE_MAP})` },
];

export const TRACE_ROW_BINARY_HEADER = encodeRowBinaryHeader(TRACE_ROW_BINARY_COLUMNS);

/** Bytes a writer starts with per span; about what a span with eight attributes and one event takes. */
const ESTIMATED_BYTES_PER_SPAN = 640;

/**
 * Encodes every span of a request as `otel_traces` rows in
 * RowBinaryWithNamesAndTypes, without checking them: pass the request that
 * `selectStorableSpans` returns. The resource attributes and service name
 * are encoded once per resource.
 */
export function encodeTraceRowBinary(request: OtlpTraceRequest, spanCount: number): EncodedRows {
  const writer = new RowBinaryWriter(Math.max(1024, spanCount * ESTIMATED_BYTES_PER_SPAN));
  let rowCount = 0;
  for (const resourceSpans of request.resourceSpans) {
    const resource = encodeResource(resourceSpans.resource.attributes);
    for (const scopeSpans of resourceSpans.scopeSpans) {
      const scope = encodeScope(scopeSpans.scope.name, scopeSpans.scope.version);
      for (const span of scopeSpans.spans) {
        writeSpan(writer, span, resource, scope);
        rowCount++;
      }
    }
  }
  return { format: 'RowBinaryWithNamesAndTypes', rowCount, header: TRACE_ROW_BINARY_HEADER, body: writer.toBuffer() };
}

/** Encodes the ServiceName and ResourceAttributes values of a resource, which are adjacent in a row. */
export function encodeResource(attributes: readonly OtlpKeyValue[]): Buffer {
  const writer = new RowBinaryWriter(1024);
  writer.writeString(readServiceName(attributes));
  writeAttributeMap(writer, attributes);
  return writer.toBuffer();
}

/** Encodes the ScopeName and ScopeVersion values of a scope. */
export function encodeScope(name: string, version: string): Buffer {
  const writer = new RowBinaryWriter(256);
  writer.writeString(name);
  writer.writeString(version);
  return writer.toBuffer();
}

function writeSpan(writer: RowBinaryWriter, span: OtlpSpan, resource: Buffer, scope: Buffer): void {
  writer.writeInt64(span.startTimeUnixNano);
  writer.writeHexString(span.traceId);
  writer.writeHexString(span.spanId);
  writer.writeHexString(span.parentSpanId);
  writer.writeString(span.traceState);
  writer.writeString(span.name);
  writer.writeString(SPAN_KIND_NAMES[span.kind] ?? '');
  writer.writeBytes(resource);
  writer.writeBytes(scope);
  writeAttributeMap(writer, span.attributes);
  writer.writeUInt64(span.endTimeUnixNano - span.startTimeUnixNano);
  writer.writeString(STATUS_CODE_NAMES[span.status.code] ?? '');
  writer.writeString(span.status.message);
  writeEvents(writer, span);
  writeLinks(writer, span);
}

/** Writes the Events Nested columns: one array per field, each with one element per event. */
function writeEvents(writer: RowBinaryWriter, span: OtlpSpan): void {
  const { events } = span;
  writer.writeVarUInt(events.length);
  for (const event of events) writer.writeInt64(event.timeUnixNano);
  writer.writeVarUInt(events.length);
  for (const event of events) writer.writeString(event.name);
  writer.writeVarUInt(events.length);
  for (const event of events) writeAttributeMap(writer, event.attributes);
}

function writeLinks(writer: RowBinaryWriter, span: OtlpSpan): void {
  const { links } = span;
  writer.writeVarUInt(links.length);
  for (const link of links) writer.writeHexString(link.traceId);
  writer.writeVarUInt(links.length);
  for (const link of links) writer.writeHexString(link.spanId);
  writer.writeVarUInt(links.length);
  for (const link of links) writer.writeString(link.traceState);
  writer.writeVarUInt(links.length);
  for (const link of links) writeAttributeMap(writer, link.attributes);
}

/**
 * Writes attributes as a Map with values flattened like `toAttributeMap`.
 * A key given twice keeps its last value at the place of its first, as in
 * the JSON object that `toAttributeMap` builds.
 */
export function writeAttributeMap(writer: RowBinaryWriter, attributes: readonly OtlpKeyValue[]): void {
  const entries = hasRepeatedKey(attributes) ? mergeRepeatedKeys(attributes) : attributes;
  writer.writeVarUInt(entries.length);
  for (const { key, value } of entries) {
    writer.writeString(key);
    writer.writeString(formatAttributeValue(value));
  }
}

/** Lists below this length are checked pairwise, which for a handful of keys is cheaper than a Set. */
export const PAIRWISE_CHECK_MAX_LENGTH = 16;

function hasRepeatedKey(attributes: readonly OtlpKeyValue[]): boolean {
  if (attributes.length > PAIRWISE_CHECK_MAX_LENGTH) {
    return new Set(attributes.map((attribute) => attribute.key)).size !== attributes.length;
  }
  for (let index = 1; index < attributes.length; index++) {
    const key = attributes[index]!.key;
    for (let earlier = 0; earlier < index; earlier++) {
      if (attributes[earlier]!.key === key) return true;
    }
  }
  return false;
}

function mergeRepeatedKeys(attributes: readonly OtlpKeyValue[]): OtlpKeyValue[] {
  const values = new Map<string, OtlpAnyValue>();
  for (const { key, value } of attributes) values.set(key, value);
  return [...values].map(([key, value]) => ({ key, value }));
}
