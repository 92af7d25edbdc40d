import { formatMessage, COLLECTOR_ERRORS } from '../errors.js';
import { isAllZero } from '../ingest/row-binary.js';
import { formatAttributeValue, toAttributeMap } from './attribute-values.js';
import type { OtlpInstrumentationScope, OtlpKeyValue, OtlpSpan, OtlpSpanEvent, OtlpSpanLink, OtlpTraceRequest } from './types.js';

/**
 * One `otel_traces` row in the column names of the Collector's ClickHouse
 * exporter, ready for a JSONEachRow insert. DateTime64(9) values are
 * `seconds.nanoseconds` strings and UInt64 values decimal strings, so no
 * nanosecond is lost to JavaScript numbers.
 */
export interface OtelTraceRow {
  Timestamp: string;
  TraceId: string;
  SpanId: string;
  ParentSpanId: string;
  TraceState: string;
  SpanName: string;
  SpanKind: string;
  ServiceName: string;
  ResourceAttributes: Record<string, string>;
  ScopeName: string;
  ScopeVersion: string;
  SpanAttributes: Record<string, string>;
  Duration: string;
  StatusCode: string;
  StatusMessage: string;
  'Events.Timestamp': string[];
  'Events.Name': string[];
  'Events.Attributes': Record<string, string>[];
  'Links.TraceId': string[];
  'Links.SpanId': string[];
  'Links.TraceState': string[];
  'Links.Attributes': Record<string, string>[];
}

/** Rows to store and the spans rejected, for an OTLP partial success. */
export interface TraceRowsResult {
  rows: OtelTraceRow[];
  rejectedSpans: number;
  /** Empty when no span was rejected. */
  errorMessage: string;
}

/** `SpanKind` names as the exporter writes them (pdata `SpanKind.String`). */
export const SPAN_KIND_NAMES = ['Unspecified', 'Internal', 'Server', 'Client', 'Producer', 'Consumer'];

/** `StatusCode` names as the exporter writes them (pdata `StatusCode.String`). */
export const STATUS_CODE_NAMES = ['Unset', 'Ok', 'Error'];

const TRACE_ID_BYTES = 16;
const SPAN_ID_BYTES = 8;
const NANOSECONDS_PER_SECOND = 1_000_000_000n;

/** Digits of the seconds part of the largest DateTime64(9) instant, 9223372036. */
const DATETIME64_SECONDS_DIGITS = 10;

/** Largest instant a DateTime64(9) column holds: 2^63 - 1 ns after the epoch. */
const MAX_DATETIME64_NANOS = (1n << 63n) - 1n;

/** How many distinct rejection reasons the partial-success message lists. */
const MAX_LISTED_REASONS = 5;

/** Spans to store: a request and the number of spans in it. */
export interface TraceSpans {
  request: OtlpTraceRequest;
  spanCount: number;
}

/**
 * A request reduced to the spans that can be stored, with the count of those
 * left out. Resources and scopes without spans remain in `request`.
 */
export interface StorableSpans extends TraceSpans {
  rejectedSpans: number;
  /** Empty when no span was rejected. */
  errorMessage: string;
}

/**
 * Maps a decoded request to `otel_traces` rows, one per valid span. Spans
 * that `findSpanProblem` reports are counted as rejected and left out.
 */
export function toTraceRows(request: OtlpTraceRequest): TraceRowsResult {
  const storable = selectStorableSpans(request);
  return { rows: mapSpansToRows(storable.request), rejectedSpans: storable.rejectedSpans, errorMessage: storable.errorMessage };
}

/**
 * Leaves out the spans that `findSpanProblem` reports and describes them for
 * an OTLP partial success. Returns the same request object when every span
 * is valid.
 */
export function selectStorableSpans(request: OtlpTraceRequest): StorableSpans {
  const reasons = new Map<string, number>();
  let totalSpans = 0;
  let spanCount = 0;
  const resourceSpans = request.resourceSpans.map((resource) => {
    const scopeSpans = resource.scopeSpans.map((scope) => {
      const spans = scope.spans.filter((span) => {
        const reason = findSpanProblem(span);
        if (reason) reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
        return reason === undefined;
      });
      totalSpans += scope.spans.length;
      spanCount += spans.length;
      return spans.length === scope.spans.length ? scope : { ...scope, spans };
    });
    return { ...resource, scopeSpans };
  });

  const rejectedSpans = totalSpans - spanCount;
  return {
    request: rejectedSpans === 0 ? request : { resourceSpans },
    spanCount,
    rejectedSpans,
    errorMessage: describeRejections(reasons, rejectedSpans, totalSpans),
  };
}

/** Maps every span of a request to a row without checking it; `selectStorableSpans` does the checks. */
export function mapSpansToRows(request: OtlpTraceRequest): OtelTraceRow[] {
  const rows: OtelTraceRow[] = [];
  for (const resourceSpans of request.resourceSpans) {
    const resourceAttributes = toAttributeMap(resourceSpans.resource.attributes);
    const serviceName = readServiceName(resourceSpans.resource.attributes);
    for (const scopeSpans of resourceSpans.scopeSpans) {
      for (const span of scopeSpans.spans) rows.push(toRow(span, serviceName, resourceAttributes, scopeSpans.scope));
    }
  }
  return rows;
}

/** The parts of a span that `findSpanProblem` checks. */
export type SpanIdsAndTimes = Pick<OtlpSpan, 'traceId' | 'spanId' | 'parentSpanId' | 'startTimeUnixNano' | 'endTimeUnixNano'> & {
  links: readonly Pick<OtlpSpanLink, 'traceId' | 'spanId'>[];
  events: readonly Pick<OtlpSpanEvent, 'timeUnixNano'>[];
};

/**
 * Returns why `span` cannot be stored, or undefined when it can. A span is
 * invalid when its trace id is not 16 bytes or its span id not 8 bytes, and
 * all-zero ids count as missing. It is also invalid when a parent or link id
 * has the wrong length, when it ends before it starts, or when a timestamp
 * is past what DateTime64(9) holds. The reason names no ids, so equal
 * problems group into one line of the message.
 */
export function findSpanProblem(span: SpanIdsAndTimes): string | undefined {
  if (!isValidId(span.traceId, TRACE_ID_BYTES)) {
    return `trace id must be ${TRACE_ID_BYTES} bytes and not all zero, received ${describeId(span.traceId)}`;
  }
  if (!isValidId(span.spanId, SPAN_ID_BYTES)) {
    return `span id must be ${SPAN_ID_BYTES} bytes and not all zero, received ${describeId(span.spanId)}`;
  }
  if (!isEmptyOrSized(span.parentSpanId, SPAN_ID_BYTES)) {
    return `parent span id must be empty or ${SPAN_ID_BYTES} bytes, received ${span.parentSpanId.length} bytes`;
  }
  for (const link of span.links) {
    if (!isEmptyOrSized(link.traceId, TRACE_ID_BYTES) || !isEmptyOrSized(link.spanId, SPAN_ID_BYTES)) {
      return `link ids must be empty or ${TRACE_ID_BYTES} and ${SPAN_ID_BYTES} bytes`;
    }
  }
  if (span.endTimeUnixNano < span.startTimeUnixNano) {
    return 'end time is before start time';
  }
  const latest = span.events.reduce(
    (max, event) => (event.timeUnixNano > max ? event.timeUnixNano : max),
    span.endTimeUnixNano,
  );
  if (latest > MAX_DATETIME64_NANOS) {
    return 'a timestamp is later than DateTime64(9) can store (year 2262)';
  }
  return undefined;
}

/** Builds a row in one object literal: spreading a partial row into another costs a copy per span. */
function toRow(
  span: OtlpSpan,
  serviceName: string,
  resourceAttributes: Record<string, string>,
  scope: OtlpInstrumentationScope,
): OtelTraceRow {
  return {
    Timestamp: formatDateTime64(span.startTimeUnixNano),
    TraceId: toHexOrEmpty(span.traceId),
    SpanId: toHexOrEmpty(span.spanId),
    ParentSpanId: toHexOrEmpty(span.parentSpanId),
    TraceState: span.traceState,
    SpanName: span.name,
    SpanKind: SPAN_KIND_NAMES[span.kind] ?? '',
    ServiceName: serviceName,
    ResourceAttributes: resourceAttributes,
    ScopeName: scope.name,
    ScopeVersion: scope.version,
    SpanAttributes: toAttributeMap(span.attributes),
    Duration: (span.endTimeUnixNano - span.startTimeUnixNano).toString(),
    StatusCode: STATUS_CODE_NAMES[span.status.code] ?? '',
    StatusMessage: span.status.message,
    'Events.Timestamp': span.events.map((event) => formatDateTime64(event.timeUnixNano)),
    'Events.Name': span.events.map((event) => event.name),
    'Events.Attributes': span.events.map((event) => toAttributeMap(event.attributes)),
    'Links.TraceId': span.links.map((link) => toHexOrEmpty(link.traceId)),
    'Links.SpanId': span.links.map((link) => toHexOrEmpty(link.spanId)),
    'Links.TraceState': span.links.map((link) => link.traceState),
    'Links.Attributes': span.links.map((link) => toAttributeMap(link.attributes)),
  };
}

/** `service.name` flattened like any attribute, '' when absent (as the exporter does). */
export function readServiceName(attributes: readonly OtlpKeyValue[]): string {
  let serviceName = '';
  for (const { key, value } of attributes) {
    if (key === 'service.name') serviceName = formatAttributeValue(value);
  }
  return serviceName;
}

/**
 * Formats nanoseconds since the epoch as `seconds.nanoseconds` for
 * DateTime64(9), with the seconds zero-padded to 10 digits. ClickHouse
 * (checked with chDB 26.7) reads a seconds part of fewer than 9 digits as a
 * date and fails the whole insert, so an instant before March 1973 would
 * otherwise be rejected. 10 digits hold every instant up to the year 2262.
 */
export function formatDateTime64(unixNanos: bigint): string {
  const seconds = unixNanos / NANOSECONDS_PER_SECOND;
  const nanos = unixNanos % NANOSECONDS_PER_SECOND;
  return `${seconds.toString().padStart(DATETIME64_SECONDS_DIGITS, '0')}.${nanos.toString().padStart(9, '0')}`;
}

/** Lowercase hex of an id, '' for an empty or all-zero id (as the exporter does). */
function toHexOrEmpty(id: Uint8Array): string {
  return isAllZero(id) ? '' : Buffer.from(id).toString('hex');
}

function isValidId(id: Uint8Array, size: number): boolean {
  return id.length === size && !isAllZero(id);
}

function isEmptyOrSized(id: Uint8Array, size: number): boolean {
  return id.length === 0 || id.length === size;
}

function describeId(id: Uint8Array): string {
  if (id.length === 0) return 'an empty id';
  return isAllZero(id) ? `${id.length} zero bytes` : `${id.length} bytes`;
}

/** Describes rejected spans for an OTLP partial success, each reason with its count; '' when none was rejected. */
export function describeRejections(reasons: ReadonlyMap<string, number>, rejectedSpans: number, totalSpans: number): string {
  if (rejectedSpans === 0) return '';
  const listed = [...reasons].slice(0, MAX_LISTED_REASONS).map(([reason, count]) => `${count} x ${reason}`);
  if (reasons.size > MAX_LISTED_REASONS) listed.push(`${reasons.size - MAX_LISTED_REASONS} more reasons`);
  return formatMessage(COLLECTOR_ERRORS.invalidSpan.messageTemplate, {
    rejectedSpans,
    totalSpans,
    reasons: listed.join('; '),
  });
}
