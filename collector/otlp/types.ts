/**
 * A decoded `ExportTraceServiceRequest`, the same whether it arrived as
 * protobuf or as OTLP JSON. Missing fields hold their proto3 defaults (empty
 * string, empty bytes, 0), so no consumer has to tell absent from default.
 */
export interface OtlpTraceRequest {
  resourceSpans: OtlpResourceSpans[];
}

export interface OtlpResourceSpans {
  resource: OtlpResource;
  scopeSpans: OtlpScopeSpans[];
  schemaUrl: string;
}

export interface OtlpResource {
  attributes: OtlpKeyValue[];
}

export interface OtlpScopeSpans {
  scope: OtlpInstrumentationScope;
  spans: OtlpSpan[];
  schemaUrl: string;
}

export interface OtlpInstrumentationScope {
  name: string;
  version: string;
  attributes: OtlpKeyValue[];
}

export interface OtlpSpan {
  traceId: Uint8Array;
  spanId: Uint8Array;
  traceState: string;
  /** Empty for a root span. */
  parentSpanId: Uint8Array;
  name: string;
  /** `SpanKind` enum value, 0 to 5 in the current proto. */
  kind: number;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  attributes: OtlpKeyValue[];
  events: OtlpSpanEvent[];
  links: OtlpSpanLink[];
  status: OtlpStatus;
}

export interface OtlpSpanEvent {
  timeUnixNano: bigint;
  name: string;
  attributes: OtlpKeyValue[];
}

export interface OtlpSpanLink {
  traceId: Uint8Array;
  spanId: Uint8Array;
  traceState: string;
  attributes: OtlpKeyValue[];
}

export interface OtlpStatus {
  /** `StatusCode` enum value: 0 unset, 1 ok, 2 error. */
  code: number;
  message: string;
}

export interface OtlpKeyValue {
  key: string;
  value: OtlpAnyValue;
}

/** One `AnyValue`; `empty` is an `AnyValue` with no member of the oneof set. */
export type OtlpAnyValue =
  | { type: 'empty' }
  | { type: 'string'; value: string }
  | { type: 'bool'; value: boolean }
  | { type: 'int'; value: bigint }
  | { type: 'double'; value: number }
  | { type: 'bytes'; value: Uint8Array }
  | { type: 'array'; values: OtlpAnyValue[] }
  | { type: 'kvlist'; values: OtlpKeyValue[] };
