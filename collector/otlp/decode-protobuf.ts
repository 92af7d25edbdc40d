import { createCollectorError } from '../errors.js';
import { MAX_ANY_VALUE_DEPTH } from './attribute-values.js';
import { loadOtlpProtoTypes } from './proto-schema.js';
import type {
  OtlpAnyValue,
  OtlpInstrumentationScope,
  OtlpKeyValue,
  OtlpResourceSpans,
  OtlpScopeSpans,
  OtlpSpan,
  OtlpSpanEvent,
  OtlpSpanLink,
  OtlpTraceRequest,
} from './types.js';

/**
 * A message as protobufjs decodes it: fields present on the wire are own
 * properties, absent ones fall back to defaults on the prototype.
 */
type DecodedMessage = Record<string, unknown>;

const EMPTY_BYTES = new Uint8Array(0);

/** Message protobufjs throws past its nesting limit of `Reader.recursionLimit` (100) messages. */
const PROTOBUFJS_DEPTH_MESSAGE = 'max depth exceeded';

/**
 * Decodes a binary protobuf `ExportTraceServiceRequest`. Throws
 * `COLLECTOR_ERR_INVALID_PROTOBUF` on truncated or malformed input,
 * including invalid UTF-8 in a `string` field (protobufjs verifies proto3
 * strings), and `COLLECTOR_ERR_NESTING_TOO_DEEP` for an attribute nested
 * deeper than `MAX_ANY_VALUE_DEPTH` or any message nested deeper than
 * protobufjs decodes. protobufjs skips a known field with an unexpected wire
 * type like an unknown field.
 */
export function decodeProtobufTraceRequest(body: Uint8Array): OtlpTraceRequest {
  const { exportTraceServiceRequest } = loadOtlpProtoTypes();
  let decoded: DecodedMessage;
  try {
    decoded = exportTraceServiceRequest.decode(body) as unknown as DecodedMessage;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    if (reason === PROTOBUFJS_DEPTH_MESSAGE) {
      throw createCollectorError(
        'nestingTooDeep',
        { field: '(protobuf)', maxDepth: 100, levels: 'nested messages' },
        { cause: error, field: '' },
      );
    }
    throw createCollectorError('invalidProtobuf', { reason }, { cause: error });
  }
  return { resourceSpans: readMessages(decoded, 'resourceSpans').map(toResourceSpans) };
}

function toResourceSpans(message: DecodedMessage): OtlpResourceSpans {
  const resource = readMessage(message, 'resource');
  return {
    resource: { attributes: resource ? toKeyValues(resource, 'attributes') : [] },
    scopeSpans: readMessages(message, 'scopeSpans').map(toScopeSpans),
    schemaUrl: readString(message, 'schemaUrl'),
  };
}

function toScopeSpans(message: DecodedMessage): OtlpScopeSpans {
  return {
    scope: toScope(readMessage(message, 'scope')),
    spans: readMessages(message, 'spans').map(toSpan),
    schemaUrl: readString(message, 'schemaUrl'),
  };
}

function toScope(message: DecodedMessage | undefined): OtlpInstrumentationScope {
  if (!message) return { name: '', version: '', attributes: [] };
  return {
    name: readString(message, 'name'),
    version: readString(message, 'version'),
    attributes: toKeyValues(message, 'attributes'),
  };
}

function toSpan(message: DecodedMessage): OtlpSpan {
  const status = readMessage(message, 'status');
  return {
    traceId: readBytes(message, 'traceId'),
    spanId: readBytes(message, 'spanId'),
    traceState: readString(message, 'traceState'),
    parentSpanId: readBytes(message, 'parentSpanId'),
    name: readString(message, 'name'),
    kind: readNumber(message, 'kind'),
    startTimeUnixNano: readUint64(message, 'startTimeUnixNano'),
    endTimeUnixNano: readUint64(message, 'endTimeUnixNano'),
    attributes: toKeyValues(message, 'attributes'),
    events: readMessages(message, 'events').map(toEvent),
    links: readMessages(message, 'links').map(toLink),
    status: {
      code: status ? readNumber(status, 'code') : 0,
      message: status ? readString(status, 'message') : '',
    },
  };
}

function toEvent(message: DecodedMessage): OtlpSpanEvent {
  return {
    timeUnixNano: readUint64(message, 'timeUnixNano'),
    name: readString(message, 'name'),
    attributes: toKeyValues(message, 'attributes'),
  };
}

function toLink(message: DecodedMessage): OtlpSpanLink {
  return {
    traceId: readBytes(message, 'traceId'),
    spanId: readBytes(message, 'spanId'),
    traceState: readString(message, 'traceState'),
    attributes: toKeyValues(message, 'attributes'),
  };
}

/** `depth` is the nesting level of the list's parent `AnyValue`, 0 for a span's own attributes. */
function toKeyValues(message: DecodedMessage, field: string, depth = 0): OtlpKeyValue[] {
  return readMessages(message, field).map((keyValue) => ({
    key: readString(keyValue, 'key'),
    value: toAnyValue(readMessage(keyValue, 'value'), depth + 1),
  }));
}

function toAnyValue(message: DecodedMessage | undefined, depth: number): OtlpAnyValue {
  if (!message) return { type: 'empty' };
  if (depth > MAX_ANY_VALUE_DEPTH) {
    throw createCollectorError(
      'nestingTooDeep',
      { field: 'attributes', maxDepth: MAX_ANY_VALUE_DEPTH, levels: 'levels of arrayValue and kvlistValue' },
      { field: 'attributes' },
    );
  }
  // protobufjs sets every oneof member found on the wire as an own property;
  // a well-formed message carries one, and the order below picks for others.
  if (has(message, 'stringValue')) return { type: 'string', value: readString(message, 'stringValue') };
  if (has(message, 'boolValue')) return { type: 'bool', value: message.boolValue === true };
  if (has(message, 'intValue')) return { type: 'int', value: toBigInt(message.intValue) };
  if (has(message, 'doubleValue')) return { type: 'double', value: Number(message.doubleValue) };
  if (has(message, 'bytesValue')) return { type: 'bytes', value: readBytes(message, 'bytesValue') };
  if (has(message, 'arrayValue')) {
    const array = readMessage(message, 'arrayValue');
    const values = array ? readMessages(array, 'values') : [];
    return { type: 'array', values: values.map((value) => toAnyValue(value, depth + 1)) };
  }
  if (has(message, 'kvlistValue')) {
    const list = readMessage(message, 'kvlistValue');
    return { type: 'kvlist', values: list ? toKeyValues(list, 'values', depth) : [] };
  }
  return { type: 'empty' };
}

function has(message: DecodedMessage, field: string): boolean {
  return Object.prototype.hasOwnProperty.call(message, field) && message[field] != null;
}

function readMessage(message: DecodedMessage, field: string): DecodedMessage | undefined {
  return has(message, field) ? (message[field] as DecodedMessage) : undefined;
}

function readMessages(message: DecodedMessage, field: string): DecodedMessage[] {
  const value = message[field];
  return Array.isArray(value) ? (value as DecodedMessage[]) : [];
}

function readString(message: DecodedMessage, field: string): string {
  const value = message[field];
  return typeof value === 'string' ? value : '';
}

function readNumber(message: DecodedMessage, field: string): number {
  const value = message[field];
  return typeof value === 'number' ? value : 0;
}

function readBytes(message: DecodedMessage, field: string): Uint8Array {
  const value = message[field];
  return value instanceof Uint8Array ? value : EMPTY_BYTES;
}

/** Reads a fixed64 field, which protobufjs returns as an unsigned Long. */
function readUint64(message: DecodedMessage, field: string): bigint {
  return has(message, field) ? toBigInt(message[field]) : 0n;
}

/** Converts a protobufjs 64-bit value (a Long, or a number without long.js). */
function toBigInt(value: unknown): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number') return BigInt(Math.trunc(value));
  if (isLong(value)) {
    // Joining the two 32-bit halves skips Long's decimal toString, a hot spot of the receiver.
    const bits = (BigInt(value.high >>> 0) << 32n) | BigInt(value.low >>> 0);
    return value.unsigned ? bits : BigInt.asIntN(64, bits);
  }
  if (value && typeof value === 'object') return BigInt(String(value));
  return 0n;
}

/** A long.js `Long`, which protobufjs returns for 64-bit fields. */
interface LongBits {
  low: number;
  high: number;
  unsigned: boolean;
}

function isLong(value: unknown): value is LongBits {
  const candidate = value as Partial<LongBits> | null;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.low === 'number' &&
    typeof candidate.high === 'number' &&
    typeof candidate.unsigned === 'boolean'
  );
}
