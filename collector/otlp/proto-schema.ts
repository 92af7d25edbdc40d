import protobuf from 'protobufjs';

/**
 * The subset of the OTLP trace protos (opentelemetry-proto v1: common,
 * resource, trace and collector/trace) and of the Google protos
 * (google/rpc/status, google/rpc/error_details, google/protobuf/any and
 * duration) that the receiver reads and writes. Field numbers follow those
 * files. Fields left out here, such as `dropped_attributes_count` or
 * `Span.flags`, are skipped by the decoder like any unknown field.
 */
const OTLP_TRACE_PROTO = `
syntax = "proto3";

package opentelemetry.proto.common.v1;

message AnyValue {
  oneof value {
    string string_value = 1;
    bool bool_value = 2;
    int64 int_value = 3;
    double double_value = 4;
    ArrayValue array_value = 5;
    KeyValueList kvlist_value = 6;
    bytes bytes_value = 7;
  }
}

message ArrayValue {
  repeated AnyValue values = 1;
}

message KeyValueList {
  repeated KeyValue values = 1;
}

message KeyValue {
  string key = 1;
  AnyValue value = 2;
}

message InstrumentationScope {
  string name = 1;
  string version = 2;
  repeated KeyValue attributes = 3;
}
`;

const OTLP_RESOURCE_PROTO = `
syntax = "proto3";

package opentelemetry.proto.resource.v1;

message Resource {
  repeated opentelemetry.proto.common.v1.KeyValue attributes = 1;
}
`;

const OTLP_SPAN_PROTO = `
syntax = "proto3";

package opentelemetry.proto.trace.v1;

message ResourceSpans {
  opentelemetry.proto.resource.v1.Resource resource = 1;
  repeated ScopeSpans scope_spans = 2;
  string schema_url = 3;
}

message ScopeSpans {
  opentelemetry.proto.common.v1.InstrumentationScope scope = 1;
  repeated Span spans = 2;
  string schema_url = 3;
}

message Span {
  bytes trace_id = 1;
  bytes span_id = 2;
  string trace_state = 3;
  bytes parent_span_id = 4;
  string name = 5;
  int32 kind = 6;
  fixed64 start_time_unix_nano = 7;
  fixed64 end_time_unix_nano = 8;
  repeated opentelemetry.proto.common.v1.KeyValue attributes = 9;
  repeated Event events = 11;
  repeated Link links = 13;
  Status status = 15;

  message Event {
    fixed64 time_unix_nano = 1;
    string name = 2;
    repeated opentelemetry.proto.common.v1.KeyValue attributes = 3;
  }

  message Link {
    bytes trace_id = 1;
    bytes span_id = 2;
    string trace_state = 3;
    repeated opentelemetry.proto.common.v1.KeyValue attributes = 4;
  }
}

message Status {
  string message = 2;
  int32 code = 3;
}
`;

const OTLP_COLLECTOR_PROTO = `
syntax = "proto3";

package opentelemetry.proto.collector.trace.v1;

message ExportTraceServiceRequest {
  repeated opentelemetry.proto.trace.v1.ResourceSpans resource_spans = 1;
}

message ExportTraceServiceResponse {
  ExportTracePartialSuccess partial_success = 1;
}

message ExportTracePartialSuccess {
  int64 rejected_spans = 1;
  string error_message = 2;
}
`;

const GOOGLE_RPC_PROTO = `
syntax = "proto3";

package google.rpc;

message Status {
  int32 code = 1;
  string message = 2;
  repeated google.protobuf.Any details = 3;
}

message BadRequest {
  message FieldViolation {
    string field = 1;
    string description = 2;
  }
  repeated FieldViolation field_violations = 1;
}

message RetryInfo {
  google.protobuf.Duration retry_delay = 1;
}

message ErrorInfo {
  string reason = 1;
  string domain = 2;
  map<string, string> metadata = 3;
}
`;

const GOOGLE_PROTOBUF_PROTO = `
syntax = "proto3";

package google.protobuf;

message Any {
  string type_url = 1;
  bytes value = 2;
}

message Duration {
  int64 seconds = 1;
  int32 nanos = 2;
}
`;

/** The protobuf message types the receiver uses, resolved once. */
export interface OtlpProtoTypes {
  exportTraceServiceRequest: protobuf.Type;
  exportTraceServiceResponse: protobuf.Type;
  rpcStatus: protobuf.Type;
  badRequest: protobuf.Type;
  retryInfo: protobuf.Type;
  errorInfo: protobuf.Type;
}

let cachedTypes: OtlpProtoTypes | undefined;

/** Builds the embedded schema on first use and returns its message types. */
export function loadOtlpProtoTypes(): OtlpProtoTypes {
  if (cachedTypes) return cachedTypes;

  // `Span.kind` and `Status.code` are declared int32 rather than as enums
  // because OTLP enums are open: a value newer than this schema still decodes.
  const root = new protobuf.Root();
  for (const source of [
    OTLP_TRACE_PROTO,
    OTLP_RESOURCE_PROTO,
    OTLP_SPAN_PROTO,
    OTLP_COLLECTOR_PROTO,
    GOOGLE_RPC_PROTO,
    GOOGLE_PROTOBUF_PROTO,
  ]) {
    protobuf.parse(source, root, { keepCase: false });
  }
  root.resolveAll();

  cachedTypes = {
    exportTraceServiceRequest: root.lookupType(
      'opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest',
    ),
    exportTraceServiceResponse: root.lookupType(
      'opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse',
    ),
    rpcStatus: root.lookupType('google.rpc.Status'),
    badRequest: root.lookupType('google.rpc.BadRequest'),
    retryInfo: root.lookupType('google.rpc.RetryInfo'),
    errorInfo: root.lookupType('google.rpc.ErrorInfo'),
  };
  return cachedTypes;
}

/** `google.protobuf.Any` type URLs of the error details the receiver sends. */
export const BAD_REQUEST_TYPE_URL = 'type.googleapis.com/google.rpc.BadRequest';
export const RETRY_INFO_TYPE_URL = 'type.googleapis.com/google.rpc.RetryInfo';
export const ERROR_INFO_TYPE_URL = 'type.googleapis.com/google.rpc.ErrorInfo';
