import { createCollectorError } from '../errors.js';
import { MAX_ANY_VALUE_DEPTH } from './attribute-values.js';
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
 * Decoder for OTLP JSON, the proto3 JSON mapping with the OTLP deviations:
 * lowerCamelCase keys, trace and span ids as hex strings (not base64), enums
 * as integers only, unknown keys ignored. 64-bit integers are accepted as
 * decimal strings or as JSON numbers, and `null` means the field's default.
 */

type JsonObject = Record<string, unknown>;

const UINT64_MAX = (1n << 64n) - 1n;
const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;
const DECIMAL_INTEGER = /^-?\d+$/;
const HEX_STRING = /^(?:[0-9a-fA-F]{2})*$/;
const BASE64_STRING = /^[A-Za-z0-9+/\-_]*={0,2}$/;
/** Matches an unpaired UTF-16 surrogate, because the `u` flag reads a valid pair as one code point. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;
const ANY_VALUE_MEMBERS = [
  'stringValue',
  'boolValue',
  'intValue',
  'doubleValue',
  'arrayValue',
  'kvlistValue',
  'bytesValue',
] as const;

/**
 * Decodes an OTLP JSON `ExportTraceServiceRequest`. Throws
 * `COLLECTOR_ERR_INVALID_JSON` when the body is not valid UTF-8 or does not
 * parse, `COLLECTOR_ERR_INVALID_JSON_FIELD`, naming the field, when a value
 * has the wrong type or a string contains an unpaired surrogate escape, and
 * `COLLECTOR_ERR_NESTING_TOO_DEEP` for an attribute nested deeper than
 * `MAX_ANY_VALUE_DEPTH`. Invalid text is rejected rather than replaced, as
 * the protobuf decoder does for `string` fields. An empty body is an empty
 * request, as in protobuf.
 *
 * 64-bit integers sent as JSON numbers are kept exact: before parsing, the
 * digits of the int64 fields are turned into strings, because `JSON.parse`
 * rounds numbers above 2^53.
 */
export function decodeJsonTraceRequest(body: Uint8Array | string): OtlpTraceRequest {
  const text = typeof body === 'string' ? body : decodeUtf8(body);
  if (text.trim() === '') return { resourceSpans: [] };

  let parsed: unknown;
  try {
    parsed = JSON.parse(quoteLargeInt64Numbers(text));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw createCollectorError('invalidJson', { reason }, { cause: error, field: '' });
  }
  const root = expectObject(parsed, '(root)');
  return {
    resourceSpans: readArray(root, 'resourceSpans', '').map((item, index) =>
      toResourceSpans(item, `resourceSpans[${index}]`),
    ),
  };
}

/**
 * Matches an int64 member whose value is an integer literal too long for a
 * double to hold exactly. Inside a JSON string every `"` is escaped, so an
 * unescaped `"intValue":` can only be a member name.
 */
const LARGE_INT64_MEMBER = /("(?:startTimeUnixNano|endTimeUnixNano|timeUnixNano|intValue)"\s*:\s*)(-?\d{16,})(?=\s*[,}\]])/g;

/** Rewrites the values {@link LARGE_INT64_MEMBER} matches as decimal strings, which the decoder accepts too. */
function quoteLargeInt64Numbers(text: string): string {
  return text.replace(LARGE_INT64_MEMBER, '$1"$2"');
}

function toResourceSpans(value: unknown, path: string): OtlpResourceSpans {
  const message = expectObject(value, path);
  const resource = readObject(message, 'resource', path);
  return {
    resource: { attributes: resource ? readKeyValues(resource, 'attributes', `${path}.resource`) : [] },
    scopeSpans: readArray(message, 'scopeSpans', path).map((item, index) =>
      toScopeSpans(item, `${path}.scopeSpans[${index}]`),
    ),
    schemaUrl: readString(message, 'schemaUrl', path),
  };
}

function toScopeSpans(value: unknown, path: string): OtlpScopeSpans {
  const message = expectObject(value, path);
  return {
    scope: toScope(readObject(message, 'scope', path), `${path}.scope`),
    spans: readArray(message, 'spans', path).map((item, index) =>
      toSpan(item, `${path}.spans[${index}]`),
    ),
    schemaUrl: readString(message, 'schemaUrl', path),
  };
}

function toScope(message: JsonObject | undefined, path: string): OtlpInstrumentationScope {
  if (!message) return { name: '', version: '', attributes: [] };
  return {
    name: readString(message, 'name', path),
    version: readString(message, 'version', path),
    attributes: readKeyValues(message, 'attributes', path),
  };
}

function toSpan(value: unknown, path: string): OtlpSpan {
  const message = expectObject(value, path);
  const status = readObject(message, 'status', path);
  return {
    traceId: readHexBytes(message, 'traceId', path),
    spanId: readHexBytes(message, 'spanId', path),
    traceState: readString(message, 'traceState', path),
    parentSpanId: readHexBytes(message, 'parentSpanId', path),
    name: readString(message, 'name', path),
    kind: readEnum(message, 'kind', path),
    startTimeUnixNano: readUint64(message, 'startTimeUnixNano', path),
    endTimeUnixNano: readUint64(message, 'endTimeUnixNano', path),
    attributes: readKeyValues(message, 'attributes', path),
    events: readArray(message, 'events', path).map((item, index) =>
      toEvent(item, `${path}.events[${index}]`),
    ),
    links: readArray(message, 'links', path).map((item, index) =>
      toLink(item, `${path}.links[${index}]`),
    ),
    status: {
      code: status ? readEnum(status, 'code', `${path}.status`) : 0,
      message: status ? readString(status, 'message', `${path}.status`) : '',
    },
  };
}

function toEvent(value: unknown, path: string): OtlpSpanEvent {
  const message = expectObject(value, path);
  return {
    timeUnixNano: readUint64(message, 'timeUnixNano', path),
    name: readString(message, 'name', path),
    attributes: readKeyValues(message, 'attributes', path),
  };
}

function toLink(value: unknown, path: string): OtlpSpanLink {
  const message = expectObject(value, path);
  return {
    traceId: readHexBytes(message, 'traceId', path),
    spanId: readHexBytes(message, 'spanId', path),
    traceState: readString(message, 'traceState', path),
    attributes: readKeyValues(message, 'attributes', path),
  };
}

/** `depth` is the nesting level of the list's parent `AnyValue`, 0 for a span's own attributes. */
function readKeyValues(message: JsonObject, key: string, path: string, depth = 0): OtlpKeyValue[] {
  return readArray(message, key, path).map((item, index) =>
    toKeyValue(item, `${joinPath(path, key)}[${index}]`, depth),
  );
}

function toKeyValue(value: unknown, path: string, depth: number): OtlpKeyValue {
  const message = expectObject(value, path);
  const anyValue = readObject(message, 'value', path);
  return {
    key: readString(message, 'key', path),
    value: anyValue ? toAnyValue(anyValue, `${path}.value`, depth + 1) : { type: 'empty' },
  };
}

function toAnyValue(message: JsonObject, path: string, depth: number): OtlpAnyValue {
  if (depth > MAX_ANY_VALUE_DEPTH) {
    throw createCollectorError(
      'nestingTooDeep',
      { field: path, maxDepth: MAX_ANY_VALUE_DEPTH, levels: 'levels of arrayValue and kvlistValue' },
      { field: path },
    );
  }
  const present = ANY_VALUE_MEMBERS.filter((member) => message[member] != null);
  if (present.length > 1) {
    throw invalidField(path, `at most one of ${ANY_VALUE_MEMBERS.join(', ')}`, present.join(' and '));
  }
  switch (present[0]) {
    case undefined:
      return { type: 'empty' };
    case 'stringValue':
      return { type: 'string', value: readString(message, 'stringValue', path) };
    case 'boolValue':
      return { type: 'bool', value: readBool(message, 'boolValue', path) };
    case 'intValue':
      return { type: 'int', value: readInt64(message, 'intValue', path) };
    case 'doubleValue':
      return { type: 'double', value: readDouble(message, 'doubleValue', path) };
    case 'bytesValue':
      return { type: 'bytes', value: readBase64Bytes(message, 'bytesValue', path) };
    case 'arrayValue': {
      const array = readObject(message, 'arrayValue', path) ?? {};
      const arrayPath = `${path}.arrayValue`;
      const values = readArray(array, 'values', arrayPath).map((item, index) =>
        toAnyValue(expectObject(item, `${arrayPath}.values[${index}]`), `${arrayPath}.values[${index}]`, depth + 1),
      );
      return { type: 'array', values };
    }
    case 'kvlistValue': {
      const list = readObject(message, 'kvlistValue', path) ?? {};
      return { type: 'kvlist', values: readKeyValues(list, 'values', `${path}.kvlistValue`, depth) };
    }
  }
  return { type: 'empty' };
}

function joinPath(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

function describeJson(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') {
    const preview = value.length > 40 ? `${value.slice(0, 40)}...` : value;
    return `the string ${JSON.stringify(preview)}`;
  }
  if (typeof value === 'object') return 'an object';
  return `the ${typeof value} ${String(value)}`;
}

function invalidField(field: string, expected: string, received: string) {
  return createCollectorError('invalidJsonField', { field, expected, received }, { field });
}

function expectObject(value: unknown, path: string): JsonObject {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalidField(path, 'an object', describeJson(value));
  }
  return value as JsonObject;
}

function readObject(message: JsonObject, key: string, path: string): JsonObject | undefined {
  const value = message[key];
  if (value == null) return undefined;
  return expectObject(value, joinPath(path, key));
}

function readArray(message: JsonObject, key: string, path: string): unknown[] {
  const value = message[key];
  if (value == null) return [];
  if (!Array.isArray(value)) throw invalidField(joinPath(path, key), 'an array', describeJson(value));
  return value;
}

function readString(message: JsonObject, key: string, path: string): string {
  const value = message[key];
  if (value == null) return '';
  if (typeof value !== 'string') throw invalidField(joinPath(path, key), 'a string', describeJson(value));
  if (LONE_SURROGATE.test(value)) {
    throw invalidField(joinPath(path, key), 'a string of valid Unicode', 'a string with an unpaired surrogate escape');
  }
  return value;
}

/** Decodes UTF-8 strictly; a leading byte order mark is dropped. */
function decodeUtf8(body: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch (error) {
    throw createCollectorError('invalidJson', { reason: 'the body is not valid UTF-8' }, { cause: error, field: '' });
  }
}

function readBool(message: JsonObject, key: string, path: string): boolean {
  const value = message[key];
  if (typeof value !== 'boolean') throw invalidField(joinPath(path, key), 'a boolean', describeJson(value));
  return value;
}

function readEnum(message: JsonObject, key: string, path: string): number {
  const value = message[key];
  if (value == null) return 0;
  if (typeof value !== 'number' || !Number.isInteger(value) || Math.abs(value) > 2 ** 31) {
    throw invalidField(joinPath(path, key), 'an integer enum value (OTLP JSON allows no enum names)', describeJson(value));
  }
  return value;
}

function readInteger(message: JsonObject, key: string, path: string, expected: string): bigint | undefined {
  const value = message[key];
  if (value == null) return undefined;
  if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
  if (typeof value === 'string' && DECIMAL_INTEGER.test(value)) return BigInt(value);
  throw invalidField(joinPath(path, key), expected, describeJson(value));
}

function readUint64(message: JsonObject, key: string, path: string): bigint {
  const expected = 'an unsigned 64-bit integer as a decimal string or number';
  const value = readInteger(message, key, path, expected) ?? 0n;
  if (value < 0n || value > UINT64_MAX) throw invalidField(joinPath(path, key), expected, describeJson(message[key]));
  return value;
}

function readInt64(message: JsonObject, key: string, path: string): bigint {
  const expected = 'a signed 64-bit integer as a decimal string or number';
  const value = readInteger(message, key, path, expected) ?? 0n;
  if (value < INT64_MIN || value > INT64_MAX) throw invalidField(joinPath(path, key), expected, describeJson(message[key]));
  return value;
}

function readDouble(message: JsonObject, key: string, path: string): number {
  const value = message[key];
  if (typeof value === 'number') return value;
  if (value === 'NaN') return Number.NaN;
  if (value === 'Infinity') return Number.POSITIVE_INFINITY;
  if (value === '-Infinity') return Number.NEGATIVE_INFINITY;
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  throw invalidField(joinPath(path, key), 'a number, "NaN", "Infinity" or "-Infinity"', describeJson(value));
}

function readHexBytes(message: JsonObject, key: string, path: string): Uint8Array {
  const value = message[key];
  if (value == null) return new Uint8Array(0);
  if (typeof value !== 'string' || !HEX_STRING.test(value)) {
    throw invalidField(joinPath(path, key), 'a hex string with an even number of digits', describeJson(value));
  }
  return Buffer.from(value, 'hex');
}

function readBase64Bytes(message: JsonObject, key: string, path: string): Uint8Array {
  const value = message[key];
  if (typeof value !== 'string' || !BASE64_STRING.test(value)) {
    throw invalidField(joinPath(path, key), 'a base64 string', describeJson(value));
  }
  return Buffer.from(value, value.includes('-') || value.includes('_') ? 'base64url' : 'base64');
}
