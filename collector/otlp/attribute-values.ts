import type { OtlpAnyValue, OtlpKeyValue } from './types.js';

/**
 * Attribute values flattened to strings the way the Collector's ClickHouse
 * exporter stores them in its `Map(String, String)` columns, through pdata's
 * `Value.AsString` (go.opentelemetry.io/collector/pdata/pcommon): strings as
 * they are, ints in decimal, doubles in the ECMAScript number format, bools
 * as `true`/`false`, bytes in standard base64, and arrays and key-value lists
 * as JSON written like Go's encoding/json (object keys sorted).
 *
 * NOTE: older pdata releases escaped `<`, `>` and `&` inside that JSON as
 * `\u003c`, `\u003e` and `\u0026`; this follows the releases that do not.
 */

/**
 * Deepest nesting of `AnyValue`s accepted in one attribute, counting the
 * attribute's own value as level 1 and each `arrayValue` or `kvlistValue`
 * as one more. Both decoders reject deeper values with
 * `COLLECTOR_ERR_NESTING_TOO_DEEP`. At 32 levels a kvlist chain still fits in
 * protobufjs's limit of 100 nested messages, so protobuf
 * and JSON accept the same attributes.
 */
export const MAX_ANY_VALUE_DEPTH = 32;

/** The raw value tree of an attribute, as pdata's `Value.AsRaw` builds it. */
type RawValue = null | string | boolean | bigint | number | Uint8Array | RawValue[] | RawMap;
type RawMap = Map<string, RawValue>;

/** Flattens one attribute value to the string the exporter stores. */
export function formatAttributeValue(value: OtlpAnyValue): string {
  switch (value.type) {
    case 'empty':
      return '';
    case 'string':
      return value.value;
    case 'bool':
      return value.value ? 'true' : 'false';
    case 'int':
      return value.value.toString();
    case 'double':
      return formatDouble(value.value);
    case 'bytes':
      return Buffer.from(value.value).toString('base64');
    case 'array':
    case 'kvlist':
      // Go's json.Marshal fails on NaN and infinities, and the exporter then
      // stores an empty string.
      return writeGoJson(toRawValue(value)) ?? '';
  }
}

/**
 * Builds the `Map(String, String)` column value of a list of attributes. A
 * key given twice keeps its last value. The object has no prototype, so a
 * key such as `__proto__` is stored like any other.
 */
export function toAttributeMap(attributes: readonly OtlpKeyValue[]): Record<string, string> {
  const map: Record<string, string> = Object.create(null);
  for (const { key, value } of attributes) {
    map[key] = formatAttributeValue(value);
  }
  return map;
}

function formatDouble(value: number): string {
  if (Number.isNaN(value)) return 'json: unsupported value: NaN';
  if (value === Number.POSITIVE_INFINITY) return 'json: unsupported value: +Inf';
  if (value === Number.NEGATIVE_INFINITY) return 'json: unsupported value: -Inf';
  return formatFiniteDouble(value);
}

/** ECMAScript number-to-string, except that Go keeps the sign of -0. */
function formatFiniteDouble(value: number): string {
  return Object.is(value, -0) ? '-0' : String(value);
}

function toRawValue(value: OtlpAnyValue): RawValue {
  switch (value.type) {
    case 'empty':
      return null;
    case 'string':
    case 'bool':
    case 'int':
    case 'double':
    case 'bytes':
      return value.value;
    case 'array':
      return value.values.map(toRawValue);
    case 'kvlist': {
      const map: RawMap = new Map();
      for (const entry of value.values) map.set(entry.key, toRawValue(entry.value));
      return map;
    }
  }
}

/** Writes `value` as Go's encoding/json would; undefined where Go fails. */
function writeGoJson(value: RawValue): string | undefined {
  if (value === null) return 'null';
  if (typeof value === 'string') return quoteGoJsonString(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') return Number.isFinite(value) ? formatFiniteDouble(value) : undefined;
  if (value instanceof Uint8Array) return `"${Buffer.from(value).toString('base64')}"`;
  if (Array.isArray(value)) return writeGoJsonList(value.map(writeGoJson), '[', ']');

  // Go sorts map keys by their UTF-8 bytes.
  const keys = [...value.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const members = keys.map((key) => {
    const member = writeGoJson(value.get(key) ?? null);
    return member === undefined ? undefined : `${quoteGoJsonString(key)}:${member}`;
  });
  return writeGoJsonList(members, '{', '}');
}

function writeGoJsonList(items: (string | undefined)[], open: string, close: string): string | undefined {
  if (items.some((item) => item === undefined)) return undefined;
  return `${open}${items.join(',')}${close}`;
}

const SHORT_ESCAPES: Record<string, string> = {
  '"': '\\"',
  '\\': '\\\\',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\b': '\\b',
  '\f': '\\f',
};

/**
 * Quotes a string like Go's encoding/json with HTML escaping off: control
 * characters as `\u00XX`, U+2028 and U+2029 escaped, and lone surrogates
 * (invalid UTF-8 on the Go side) replaced by U+FFFD.
 */
function quoteGoJsonString(text: string): string {
  let quoted = '"';
  for (let index = 0; index < text.length; index++) {
    const char = text[index] as string;
    const code = text.charCodeAt(index);
    const short = SHORT_ESCAPES[char];
    if (short) {
      quoted += short;
    } else if (code < 0x20 || code === 0x2028 || code === 0x2029) {
      quoted += `\\u${code.toString(16).padStart(4, '0')}`;
    } else if (code >= 0xd800 && code <= 0xdbff && isLowSurrogate(text.charCodeAt(index + 1))) {
      quoted += text.slice(index, index + 2);
      index++;
    } else if (code >= 0xd800 && code <= 0xdfff) {
      quoted += '\ufffd';
    } else {
      quoted += char;
    }
  }
  return `${quoted}"`;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}
