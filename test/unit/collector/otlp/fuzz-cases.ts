import { gzipSync } from 'node:zlib';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { COLLECTOR_ERRORS } from '../../../../collector/errors.js';
import { ERROR_INFO_TYPE_URL, loadOtlpProtoTypes } from '../../../../collector/otlp/proto-schema.js';

/**
 * Deterministic bad and odd OTLP/HTTP trace requests for the decoder fuzz
 * suite, with the response each must get. The unit tests send them to the
 * decoders and to an injected receiver, the integration test to a listening
 * service with a store. Every input comes from a fixed seed,
 * so a failure reproduces from its case name alone.
 */

export const PROTOBUF = 'application/x-protobuf';
export const JSON_TYPE = 'application/json';

export type FuzzContentType = typeof PROTOBUF | typeof JSON_TYPE;

/**
 * What the receiver must return for a case: an error status with a catalogue
 * code, a 200 with `storedSpans` spans stored and `rejectedSpans` reported as
 * partial success, or (for random inputs) a 200 or a 4xx with any catalogue
 * code.
 */
export type FuzzExpectation =
  | { kind: 'error'; status: number; code: string }
  | { kind: 'accepted'; storedSpans: number; rejectedSpans: number }
  | { kind: 'anyValidOutcome' };

export interface FuzzCase {
  name: string;
  contentType: FuzzContentType;
  contentEncoding?: 'gzip';
  body: Buffer;
  expected: FuzzExpectation;
}

export const TRACE_ID_HEX = '5b8efff798038103d269b633813fc60c';
const TRACE_ID = Buffer.from(TRACE_ID_HEX, 'hex');
const SPAN_ID = Buffer.from('eee19b7ec3c1b174', 'hex');
const START_NANOS = 1_700_000_000_000_000_000n;
const END_NANOS = START_NANOS + 25_000_000n;

// ---------------------------------------------------------------------------
// Random numbers

/** Mulberry32: a small seeded generator, so every random case is the same on every run. */
export function createRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = state;
    mixed = Math.imul(mixed ^ (mixed >>> 15), mixed | 1);
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function randomInt(random: () => number, maxExclusive: number): number {
  return Math.floor(random() * maxExclusive);
}

// ---------------------------------------------------------------------------
// Requests from the real OpenTelemetry JS serializer

/**
 * Serializes `count` finished spans with the `@opentelemetry/otlp-transformer`
 * serializers that the OTLP/HTTP exporters use. Ids and times are fixed, and
 * span ids count up from `firstSpanNumber`, so the bytes never change.
 */
export async function serializeExporterRequest(
  count: number,
  options: { firstSpanNumber?: number; traceIdHex?: string; namePrefix?: string } = {},
): Promise<{ protobuf: Buffer; json: Buffer }> {
  const recorded = new InMemorySpanExporter();
  let spanNumber = options.firstSpanNumber ?? 1;
  const traceId = options.traceIdHex ?? TRACE_ID_HEX;
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'mes', 'deployment.environment.name': 'plant-a' }),
    spanProcessors: [new SimpleSpanProcessor(recorded)],
    idGenerator: {
      generateTraceId: () => traceId,
      generateSpanId: () => (spanNumber++).toString(16).padStart(16, '0'),
    },
  });
  const tracer = provider.getTracer('syncwatch-fuzz', '1.0.0');
  for (let index = 0; index < count; index++) {
    const span = tracer.startSpan(`${options.namePrefix ?? 'release production order'} ${index}`, {
      startTime: [1_700_000_000, index],
      attributes: {
        'odoo.model': 'mrp.production',
        'odoo.record_id': 4711 + index,
        'mes.yield': 0.97,
        'mes.line_stopped': false,
        'mes.work_centers': ['WC-10', 'WC-20'],
      },
    });
    span.addEvent('material reserved', { 'wms.bin': 'A-01-03' }, [1_700_000_000, 500 + index]);
    span.end([1_700_000_001, index]);
  }
  await provider.forceFlush();
  const spans = recorded.getFinishedSpans();
  const protobuf = Buffer.from(ProtobufTraceSerializer.serializeRequest(spans) ?? new Uint8Array());
  const json = Buffer.from(JsonTraceSerializer.serializeRequest(spans) ?? new Uint8Array());
  await provider.shutdown();
  return { protobuf, json };
}

// ---------------------------------------------------------------------------
// A minimal protobuf wire-format writer, so tests can send what no serializer would

export const WIRE = { varint: 0, fixed64: 1, lengthDelimited: 2, startGroup: 3, endGroup: 4, fixed32: 5 } as const;

/** One field on the wire: a number, a wire type and a value of that type. */
export interface WireField {
  number: number;
  wireType: number;
  /** Varint or fixed value, raw bytes, or a nested message for wire type 2. */
  value: bigint | Uint8Array | WireField[];
}

export function encodeVarint(value: bigint): number[] {
  const bytes: number[] = [];
  let rest = BigInt.asUintN(64, value);
  do {
    let byte = Number(rest & 0x7fn);
    rest >>= 7n;
    if (rest !== 0n) byte |= 0x80;
    bytes.push(byte);
  } while (rest !== 0n);
  return bytes;
}

/** Encodes a field tag in BigInt arithmetic, because field numbers reach 2^29 - 1 and `<< 3` would overflow. */
export function encodeTag(fieldNumber: number, wireType: number): number[] {
  return encodeVarint(BigInt(fieldNumber) * 8n + BigInt(wireType));
}

function encodeFixed(value: bigint, size: number): number[] {
  const bytes: number[] = [];
  for (let index = 0; index < size; index++) bytes.push(Number((value >> BigInt(8 * index)) & 0xffn));
  return bytes;
}

/** Encodes fields in order; a group field writes its start tag, its nested fields and the end tag. */
export function encodeFields(fields: readonly WireField[]): Buffer {
  const parts: Buffer[] = [];
  for (const field of fields) {
    const tag = Buffer.from(encodeTag(field.number, field.wireType));
    parts.push(tag);
    const { value } = field;
    if (field.wireType === WIRE.varint) {
      parts.push(Buffer.from(encodeVarint(value as bigint)));
    } else if (field.wireType === WIRE.fixed64) {
      parts.push(Buffer.from(encodeFixed(value as bigint, 8)));
    } else if (field.wireType === WIRE.fixed32) {
      parts.push(Buffer.from(encodeFixed(value as bigint, 4)));
    } else if (field.wireType === WIRE.lengthDelimited) {
      const payload = Array.isArray(value) ? encodeFields(value) : Buffer.from(value as Uint8Array);
      parts.push(Buffer.from(encodeVarint(BigInt(payload.length))), payload);
    } else if (field.wireType === WIRE.startGroup) {
      parts.push(encodeFields(value as WireField[]));
      parts.push(Buffer.from(encodeTag(field.number, WIRE.endGroup)));
    }
  }
  return Buffer.concat(parts);
}

const text = (value: string) => Buffer.from(value, 'utf8');
const message = (number: number, fields: WireField[]): WireField => ({ number, wireType: WIRE.lengthDelimited, value: fields });
const bytesField = (number: number, value: Uint8Array): WireField => ({ number, wireType: WIRE.lengthDelimited, value });
const varintField = (number: number, value: bigint): WireField => ({ number, wireType: WIRE.varint, value });
const fixed64Field = (number: number, value: bigint): WireField => ({ number, wireType: WIRE.fixed64, value });

function keyValue(key: string, anyValue: WireField[]): WireField[] {
  return [bytesField(1, text(key)), message(2, anyValue)];
}

/**
 * Builds a request with one span that uses every field the decoder reads: resource and scope attributes, all seven AnyValue members, an
 * event, a link and a status.
 */
export function buildSeedFields(spanId: Uint8Array = SPAN_ID): WireField[] {
  const attributes: WireField[] = [
    message(9, keyValue('string', [bytesField(1, text('WC-10'))])),
    message(9, keyValue('bool', [varintField(2, 1n)])),
    message(9, keyValue('int', [varintField(3, 4711n)])),
    message(9, keyValue('double', [fixed64Field(4, 0x3fef0a3d70a3d70an)])),
    message(9, keyValue('array', [message(5, [message(1, [bytesField(1, text('a'))]), message(1, [varintField(3, 2n)])])])),
    message(9, keyValue('kvlist', [message(6, [message(1, keyValue('inner', [bytesField(1, text('b'))]))])])),
    message(9, keyValue('bytes', [bytesField(7, Buffer.from([1, 2, 3]))])),
  ];
  const span: WireField[] = [
    bytesField(1, TRACE_ID),
    bytesField(2, spanId),
    bytesField(3, text('vendor=1')),
    bytesField(4, Buffer.from('0102030405060708', 'hex')),
    bytesField(5, text('release production order')),
    varintField(6, 2n),
    fixed64Field(7, START_NANOS),
    fixed64Field(8, END_NANOS),
    ...attributes,
    message(11, [fixed64Field(1, START_NANOS + 1n), bytesField(2, text('material reserved')), message(3, keyValue('bin', [bytesField(1, text('A-01'))]))]),
    message(13, [bytesField(1, TRACE_ID), bytesField(2, Buffer.from('1112131415161718', 'hex')), bytesField(3, text('k=v')), message(4, keyValue('link', [bytesField(1, text('c'))]))]),
    message(15, [bytesField(2, text('quality hold missed')), varintField(3, 2n)]),
  ];
  const scope: WireField[] = [bytesField(1, text('syncwatch-fuzz')), bytesField(2, text('1.0.0')), message(3, keyValue('scope.attr', [bytesField(1, text('d'))]))];
  const resource: WireField[] = [message(1, keyValue('service.name', [bytesField(1, text('mes'))]))];
  return [message(1, [message(1, resource), message(2, [message(1, scope), message(2, span), bytesField(3, text('https://opentelemetry.io/schemas/1.26.0'))]), bytesField(3, text('https://opentelemetry.io/schemas/1.26.0'))])];
}

/** Wire type a field uses in `buildSeedFields`, with a payload of each other type for replacement. */
const REPLACEMENT_VALUES: Record<number, WireField['value']> = {
  [WIRE.varint]: 1n,
  [WIRE.fixed64]: 0x0102030405060708n,
  [WIRE.lengthDelimited]: text('x'),
  [WIRE.fixed32]: 0x01020304n,
  [WIRE.startGroup]: [],
};

/** Path of a field inside the seed: indexes into nested field lists. */
type FieldPath = number[];

function listFieldPaths(fields: readonly WireField[], prefix: FieldPath = []): FieldPath[] {
  const paths: FieldPath[] = [];
  fields.forEach((field, index) => {
    const path = [...prefix, index];
    paths.push(path);
    if (Array.isArray(field.value)) paths.push(...listFieldPaths(field.value, path));
  });
  return paths;
}

function describePath(fields: readonly WireField[], path: FieldPath): string {
  const numbers: number[] = [];
  let level: readonly WireField[] = fields;
  for (const index of path) {
    const field = level[index] as WireField;
    numbers.push(field.number);
    level = Array.isArray(field.value) ? field.value : [];
  }
  return numbers.join('.');
}

/** Returns a copy of `fields` with the field at `path` replaced, or removed when `replacement` is undefined. */
function replaceAt(fields: readonly WireField[], path: FieldPath, replacement: WireField | undefined): WireField[] {
  const [index, ...rest] = path as [number, ...number[]];
  const copy = [...fields];
  if (rest.length === 0) {
    if (replacement) copy[index] = replacement;
    else copy.splice(index, 1);
    return copy;
  }
  const parent = copy[index] as WireField;
  copy[index] = { ...parent, value: replaceAt(parent.value as WireField[], rest, replacement) };
  return copy;
}

/**
 * For every field of the seed and every other wire type (varint, fixed64,
 * length-delimited, fixed32, group), the request with that field re-encoded
 * with the wrong type, paired with the request that omits the field.
 * protobufjs treats a known field number with an unexpected
 * wire type as an unknown field, so both must decode to the same request.
 */
export function listWrongWireTypeVariants(): { name: string; wrong: Buffer; omitted: Buffer }[] {
  const seed = buildSeedFields();
  const variants: { name: string; wrong: Buffer; omitted: Buffer }[] = [];
  for (const path of listFieldPaths(seed)) {
    const original = lookupField(seed, path);
    const omitted = encodeFields(replaceAt(seed, path, undefined));
    for (const [wireType, value] of Object.entries(REPLACEMENT_VALUES)) {
      if (Number(wireType) === original.wireType) continue;
      const replacement: WireField = { number: original.number, wireType: Number(wireType), value };
      variants.push({
        name: `field ${describePath(seed, path)} as wire type ${wireType}`,
        wrong: encodeFields(replaceAt(seed, path, replacement)),
        omitted,
      });
    }
  }
  return variants;
}

function lookupField(fields: readonly WireField[], path: FieldPath): WireField {
  let field = fields[path[0] as number] as WireField;
  for (const index of path.slice(1)) field = (field.value as WireField[])[index] as WireField;
  return field;
}

/**
 * Unknown field numbers of every wire type, including a group, added to
 * every message of the seed. The request must decode as if they were absent.
 */
export function listUnknownFieldVariants(): { name: string; body: Buffer }[] {
  const seed = buildSeedFields();
  const unknownFields: WireField[] = [
    varintField(99, 123456789n),
    fixed64Field(100, 42n),
    bytesField(101, text('future field')),
    { number: 102, wireType: WIRE.fixed32, value: 7n },
    { number: 103, wireType: WIRE.startGroup, value: [varintField(1, 5n)] },
    message(536_870_911, [varintField(1, 1n)]),
  ];
  const variants: { name: string; body: Buffer }[] = [];
  const messagePaths = listFieldPaths(seed).filter((path) => Array.isArray(lookupField(seed, path).value));
  for (const unknown of unknownFields) {
    variants.push({ name: `unknown field ${unknown.number} at the root`, body: encodeFields([unknown, ...seed]) });
    for (const path of messagePaths) {
      const target = lookupField(seed, path);
      const extended: WireField = { ...target, value: [...(target.value as WireField[]), unknown] };
      variants.push({
        name: `unknown field ${unknown.number} in message ${describePath(seed, path)}`,
        body: encodeFields(replaceAt(seed, path, extended)),
      });
    }
  }
  return variants;
}

// ---------------------------------------------------------------------------
// Case catalogues

const invalidProtobuf = { kind: 'error', status: 400, code: 'COLLECTOR_ERR_INVALID_PROTOBUF' } as const;
const invalidJson = { kind: 'error', status: 400, code: 'COLLECTOR_ERR_INVALID_JSON' } as const;
const invalidJsonField = { kind: 'error', status: 400, code: 'COLLECTOR_ERR_INVALID_JSON_FIELD' } as const;
const storedOne = { kind: 'accepted', storedSpans: 1, rejectedSpans: 0 } as const;
const rejectedOne = { kind: 'accepted', storedSpans: 0, rejectedSpans: 1 } as const;

/**
 * Cuts the exporter request at every byte offset. The request has one
 * `ResourceSpans`, so every cut but the empty body ends inside a
 * length-delimited field and must fail to decode.
 */
export function listTruncationCases(protobuf: Buffer, json: Buffer): FuzzCase[] {
  const cases: FuzzCase[] = [];
  for (let length = 0; length < protobuf.length; length++) {
    cases.push({
      name: `protobuf cut at byte ${length} of ${protobuf.length}`,
      contentType: PROTOBUF,
      body: protobuf.subarray(0, length),
      expected: length === 0 ? { kind: 'accepted', storedSpans: 0, rejectedSpans: 0 } : invalidProtobuf,
    });
  }
  for (let length = 1; length < json.length; length++) {
    cases.push({ name: `json cut at byte ${length} of ${json.length}`, contentType: JSON_TYPE, body: json.subarray(0, length), expected: invalidJson });
  }
  return cases;
}

/** Copies of `body` with one to four random bytes changed, from a fixed seed. */
export function listByteFlipCases(body: Buffer, contentType: FuzzContentType, count: number, seed: number): FuzzCase[] {
  const random = createRandom(seed);
  const cases: FuzzCase[] = [];
  for (let index = 0; index < count; index++) {
    const copy = Buffer.from(body);
    const flips = 1 + randomInt(random, 4);
    const offsets: number[] = [];
    for (let flip = 0; flip < flips; flip++) {
      const offset = randomInt(random, copy.length);
      copy[offset] = (copy[offset] as number) ^ (1 + randomInt(random, 255));
      offsets.push(offset);
    }
    cases.push({
      name: `${contentType === PROTOBUF ? 'protobuf' : 'json'} seed ${seed} flip ${index} at ${offsets.join(',')}`,
      contentType,
      body: copy,
      expected: { kind: 'anyValidOutcome' },
    });
  }
  return cases;
}

/** Random byte strings of up to 512 bytes, from a fixed seed. */
export function listRandomBodyCases(count: number, seed: number): FuzzCase[] {
  const random = createRandom(seed);
  const cases: FuzzCase[] = [];
  for (let index = 0; index < count; index++) {
    const body = Buffer.alloc(randomInt(random, 513));
    for (let offset = 0; offset < body.length; offset++) body[offset] = randomInt(random, 256);
    const contentType = index % 2 === 0 ? PROTOBUF : JSON_TYPE;
    cases.push({ name: `random body seed ${seed} number ${index}`, contentType, body, expected: { kind: 'anyValidOutcome' } });
  }
  return cases;
}

/** Wire types that no protobuf message may contain, and an end-group tag without its start. */
export function listInvalidWireTypeCases(): FuzzCase[] {
  const seed = encodeFields(buildSeedFields());
  return [6, 7, WIRE.endGroup].flatMap((wireType) => [
    {
      name: `wire type ${wireType} at the root`,
      contentType: PROTOBUF,
      body: Buffer.concat([Buffer.from(encodeTag(1, wireType)), seed]),
      expected: invalidProtobuf,
    },
    {
      name: `wire type ${wireType} inside a span`,
      contentType: PROTOBUF,
      body: encodeFields(replaceSpanFields((span) => [...span, { number: 50, wireType, value: 0n }])),
      expected: invalidProtobuf,
    },
  ]);
}

function replaceSpanFields(change: (span: WireField[]) => WireField[]): WireField[] {
  const seed = buildSeedFields();
  // Path of the span in buildSeedFields: request.resource_spans[0].scope_spans[0].spans[0].
  const spanPath = [0, 1, 1];
  const span = lookupField(seed, spanPath);
  return replaceAt(seed, spanPath, { ...span, value: change(span.value as WireField[]) });
}

/**
 * Protobuf strings holding invalid UTF-8. proto3 requires valid UTF-8 in
 * `string` fields, so the receiver rejects such a request, and it rejects
 * invalid UTF-8 in a JSON body the same way. `bytes` fields may hold anything.
 */
export function listInvalidUtf8Cases(): FuzzCase[] {
  const sequences: Record<string, number[]> = {
    'a lone continuation byte': [0x80],
    'the byte 0xff': [0xff],
    'an overlong NUL': [0xc0, 0x80],
    'an encoded surrogate': [0xed, 0xa0, 0x80],
    'a cut three-byte sequence': [0xe2, 0x82],
    'a code point above U+10FFFF': [0xf4, 0x90, 0x80, 0x80],
  };
  const cases: FuzzCase[] = [];
  for (const [label, sequence] of Object.entries(sequences)) {
    const invalid = Buffer.concat([text('WC'), Buffer.from(sequence), text('10')]);
    const places: [string, (span: WireField[]) => WireField[]][] = [
      ['span name', (span) => span.map((field) => (field.number === 5 ? bytesField(5, invalid) : field))],
      ['trace state', (span) => span.map((field) => (field.number === 3 ? bytesField(3, invalid) : field))],
      ['attribute key', (span) => [...span, message(9, [bytesField(1, invalid), message(2, [bytesField(1, text('v'))])])]],
      ['attribute value', (span) => [...span, message(9, keyValue('k', [bytesField(1, invalid)]))]],
      ['status message', (span) => [...span, message(15, [bytesField(2, invalid)])]],
    ];
    for (const [place, change] of places) {
      cases.push({ name: `${label} in the ${place}`, contentType: PROTOBUF, body: encodeFields(replaceSpanFields(change)), expected: invalidProtobuf });
    }
    cases.push({
      name: `${label} in a JSON body`,
      contentType: JSON_TYPE,
      body: Buffer.concat([text('{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"'), invalid, text('"}]}]}]}')]),
      expected: invalidJson,
    });
  }
  cases.push({
    name: 'invalid UTF-8 in a bytes attribute',
    contentType: PROTOBUF,
    body: encodeFields(replaceSpanFields((span) => [...span, message(9, keyValue('raw', [bytesField(7, Buffer.from([0xff, 0xfe]))]))])),
    expected: storedOne,
  });
  cases.push({
    name: 'a lone surrogate escape in JSON',
    contentType: JSON_TYPE,
    body: text(jsonRequest({ traceId: TRACE_ID_HEX, spanId: 'eee19b7ec3c1b174', name: 'WC\\ud800' }, true)),
    expected: invalidJsonField,
  });
  return cases;
}

/** Builds an OTLP JSON request with one span; `raw` leaves string escapes as written. */
export function jsonRequest(span: Record<string, unknown>, raw = false): string {
  const spanJson = raw
    ? `{${Object.entries(span).map(([key, value]) => `"${key}":${typeof value === 'string' ? `"${value}"` : JSON.stringify(value)}`).join(',')}}`
    : JSON.stringify(span);
  return `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"mes"}}]},"scopeSpans":[{"scope":{"name":"syncwatch-fuzz"},"spans":[${spanJson}]}]}]}`;
}

/** Builds a valid OTLP JSON span with the given span id and overrides. */
export function jsonSpan(spanIdHex: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    traceId: TRACE_ID_HEX,
    spanId: spanIdHex,
    name: 'release production order',
    startTimeUnixNano: String(START_NANOS),
    endTimeUnixNano: String(END_NANOS),
    ...overrides,
  };
}

const nestingTooDeep = { kind: 'error', status: 400, code: 'COLLECTOR_ERR_NESTING_TOO_DEEP' } as const;

/**
 * Wraps an `AnyValue` in `depth` levels of `arrayValue`, writing all length
 * prefixes first, so a deep value costs linear time and no recursion.
 */
function encodeNestedArrayValue(depth: number, inner: Buffer): Buffer {
  const prefixes: Buffer[] = [];
  let size = inner.length;
  for (let level = 0; level < depth; level++) {
    // ArrayValue { values = 1: <AnyValue of `size` bytes> }, then AnyValue { array_value = 5: <ArrayValue> }.
    const arrayValue = Buffer.from([0x0a, ...encodeVarint(BigInt(size))]);
    const arraySize = arrayValue.length + size;
    const anyValue = Buffer.from([0x2a, ...encodeVarint(BigInt(arraySize))]);
    prefixes.push(Buffer.concat([anyValue, arrayValue]));
    size = anyValue.length + arraySize;
  }
  return Buffer.concat([...prefixes.reverse(), inner]);
}

/**
 * AnyValue trees nested at and past `MAX_ANY_VALUE_DEPTH` (32) and far
 * deeper, in JSON and protobuf, plus deep JSON arrays under an unknown key.
 * None may overflow the stack. Deep values get a 400 with
 * `COLLECTOR_ERR_NESTING_TOO_DEEP`, and the unknown key is ignored.
 */
export function listDeepNestingCases(): FuzzCase[] {
  const cases: FuzzCase[] = [];
  for (const depth of [32, 33, 10_000, 100_000]) {
    const expected = depth <= 32 ? storedOne : nestingTooDeep;
    // Level 1 is the attribute's own value, so `depth - 1` wrappers reach `depth` levels.
    const arrayOpen = '{"arrayValue":{"values":['.repeat(depth - 1);
    const arrayClose = ']}}'.repeat(depth - 1);
    cases.push({
      name: `json array nested ${depth} deep`,
      contentType: JSON_TYPE,
      body: text(jsonRequest(jsonSpan('eee19b7ec3c1b174', { attributes: [] })).replace('"attributes":[]', `"attributes":[{"key":"deep","value":${arrayOpen}{"stringValue":"x"}${arrayClose}}]`)),
      expected,
    });
    const kvlistOpen = '{"kvlistValue":{"values":[{"key":"k","value":'.repeat(depth - 1);
    const kvlistClose = '}]}}'.repeat(depth - 1);
    cases.push({
      name: `json kvlist nested ${depth} deep`,
      contentType: JSON_TYPE,
      body: text(jsonRequest(jsonSpan('eee19b7ec3c1b174', { attributes: [] })).replace('"attributes":[]', `"attributes":[{"key":"deep","value":${kvlistOpen}{"boolValue":true}${kvlistClose}}]`)),
      expected,
    });
    let kvlist: WireField[] = [varintField(2, 1n)];
    if (depth <= 1_000) {
      for (let level = 1; level < depth; level++) kvlist = [message(6, [message(1, keyValue('k', kvlist))])];
      cases.push({
        name: `protobuf kvlist nested ${depth} deep`,
        contentType: PROTOBUF,
        body: encodeFields(replaceSpanFields((span) => [...span, message(9, keyValue('deep', kvlist))])),
        expected,
      });
    }
    const arrayValue = encodeNestedArrayValue(depth - 1, encodeFields([bytesField(1, text('x'))]));
    cases.push({
      name: `protobuf array nested ${depth} deep`,
      contentType: PROTOBUF,
      body: encodeFields(replaceSpanFields((span) => [...span, message(9, [bytesField(1, text('deep')), bytesField(2, arrayValue)])])),
      expected,
    });
  }
  for (const depth of [10_000, 1_000_000]) {
    cases.push({
      name: `json plain arrays nested ${depth} deep under an unknown key`,
      contentType: JSON_TYPE,
      body: text(`{"futureField":${'['.repeat(depth)}${']'.repeat(depth)},${jsonRequest(jsonSpan('eee19b7ec3c1b175')).slice(1)}`),
      expected: storedOne,
    });
  }
  cases.push({
    name: 'protobuf unknown groups nested 1000 deep',
    contentType: PROTOBUF,
    body: Buffer.concat([
      Buffer.from(Array.from({ length: 1000 }, () => encodeTag(90, WIRE.startGroup)).flat()),
      Buffer.from(Array.from({ length: 1000 }, () => encodeTag(90, WIRE.endGroup)).flat()),
      encodeFields(buildSeedFields()),
    ]),
    expected: nestingTooDeep,
  });
  return cases;
}

/**
 * Attribute values near and past the body limit. Inside the limit the span is
 * stored whole. Past it the request gets 413, plain or as a gzip bomb.
 */
export function listHugeValueCases(maxBodyBytes: number): FuzzCase[] {
  const within = 'x'.repeat(Math.floor(maxBodyBytes * 0.75));
  const beyond = 'x'.repeat(maxBodyBytes + 1024);
  return [
    {
      name: `attribute of ${within.length} bytes in protobuf`,
      contentType: PROTOBUF,
      body: encodeFields(replaceSpanFields((span) => [...span, message(9, keyValue('huge', [bytesField(1, text(within))]))])),
      expected: storedOne,
    },
    {
      name: `attribute of ${within.length} bytes in JSON`,
      contentType: JSON_TYPE,
      body: text(jsonRequest(jsonSpan('eee19b7ec3c1b176', { attributes: [{ key: 'huge', value: { stringValue: within } }] }))),
      expected: storedOne,
    },
    {
      name: `attribute of ${beyond.length} bytes in protobuf`,
      contentType: PROTOBUF,
      body: encodeFields(replaceSpanFields((span) => [...span, message(9, keyValue('huge', [bytesField(1, text(beyond))]))])),
      expected: { kind: 'error', status: 413, code: 'COLLECTOR_ERR_BODY_TOO_LARGE' },
    },
    {
      name: `gzip bomb of ${beyond.length} bytes in JSON`,
      contentType: JSON_TYPE,
      contentEncoding: 'gzip',
      body: gzipSync(text(jsonRequest(jsonSpan('eee19b7ec3c1b177', { attributes: [{ key: 'huge', value: { stringValue: beyond } }] })))),
      expected: { kind: 'error', status: 413, code: 'COLLECTOR_ERR_DECOMPRESSED_BODY_TOO_LARGE' },
    },
    {
      name: `attribute key of ${beyond.length} bytes in JSON`,
      contentType: JSON_TYPE,
      body: text(jsonRequest(jsonSpan('eee19b7ec3c1b177', { attributes: [{ key: beyond, value: { stringValue: 'v' } }] }))),
      expected: { kind: 'error', status: 413, code: 'COLLECTOR_ERR_BODY_TOO_LARGE' },
    },
  ];
}

/**
 * Trace and span ids of the wrong length. Protobuf carries raw bytes, so a
 * wrong length rejects the span (OTLP partial success). OTLP JSON carries hex,
 * so a value that is not an even-length hex string, such as base64, rejects
 * the request, and valid hex of the wrong length rejects the span.
 */
export function listWrongIdCases(): FuzzCase[] {
  const cases: FuzzCase[] = [];
  const protobufIds: [string, number, Buffer][] = [
    ['empty trace id', 1, Buffer.alloc(0)],
    ['15-byte trace id', 1, Buffer.alloc(15, 7)],
    ['17-byte trace id', 1, Buffer.alloc(17, 7)],
    ['all-zero trace id', 1, Buffer.alloc(16)],
    ['7-byte span id', 2, Buffer.alloc(7, 7)],
    ['9-byte span id', 2, Buffer.alloc(9, 7)],
    ['5-byte parent span id', 4, Buffer.alloc(5, 7)],
  ];
  for (const [label, number, value] of protobufIds) {
    cases.push({
      name: `protobuf ${label}`,
      contentType: PROTOBUF,
      body: encodeFields(replaceSpanFields((span) => span.map((field) => (field.number === number ? bytesField(number, value) : field)))),
      expected: rejectedOne,
    });
  }
  const jsonIds: [string, Record<string, unknown>, FuzzExpectation][] = [
    ['30-digit hex trace id', { traceId: TRACE_ID_HEX.slice(2) }, rejectedOne],
    ['34-digit hex trace id', { traceId: `${TRACE_ID_HEX}ab` }, rejectedOne],
    ['odd-length hex trace id', { traceId: TRACE_ID_HEX.slice(1) }, invalidJsonField],
    ['base64 trace id', { traceId: 'W47/95gDgQPSabYzgT/GDA==' }, invalidJsonField],
    ['base64url span id', { spanId: '7uGbfsPBsXQ' }, invalidJsonField],
    ['non-hex span id', { spanId: 'eee19b7ec3c1b17g' }, invalidJsonField],
    ['numeric span id', { spanId: 1234 }, invalidJsonField],
    ['uppercase hex ids', { traceId: TRACE_ID_HEX.toUpperCase(), spanId: 'EEE19B7EC3C1B178' }, storedOne],
  ];
  for (const [label, overrides, expected] of jsonIds) {
    cases.push({ name: `json ${label}`, contentType: JSON_TYPE, body: text(jsonRequest(jsonSpan('eee19b7ec3c1b178', overrides))), expected });
  }
  return cases;
}

/**
 * Timestamps that are not unsigned 64-bit integers. OTLP JSON takes them as
 * decimal strings or integral numbers, so everything else rejects the
 * request and names the field.
 */
export function listBadTimestampCases(): FuzzCase[] {
  const values: [string, unknown][] = [
    ['letters', '17000000000000000x0'],
    ['hex digits', '0x1f'],
    ['a float string', '1700000000000000000.5'],
    ['a float number', 1.5],
    ['an exponent string', '1.7e18'],
    ['a negative string', '-1'],
    ['a negative number', -5],
    ['2^64 as a string', '18446744073709551616'],
    ['1e30 as a number', 1e30],
    ['an empty string', ''],
    ['a padded string', ' 1700000000000000000'],
    ['true', true],
    ['an object', { seconds: 1 }],
    ['an array', [1]],
  ];
  const cases: FuzzCase[] = [];
  for (const [label, value] of values) {
    for (const field of ['startTimeUnixNano', 'endTimeUnixNano']) {
      cases.push({
        name: `json ${field} as ${label}`,
        contentType: JSON_TYPE,
        body: text(jsonRequest(jsonSpan('eee19b7ec3c1b179', { [field]: value }))),
        expected: invalidJsonField,
      });
    }
  }
  cases.push({
    name: 'json event time as letters',
    contentType: JSON_TYPE,
    body: text(jsonRequest(jsonSpan('eee19b7ec3c1b179', { events: [{ name: 'e', timeUnixNano: 'soon' }] }))),
    expected: invalidJsonField,
  });
  cases.push({
    name: 'json end before start',
    contentType: JSON_TYPE,
    body: text(jsonRequest(jsonSpan('eee19b7ec3c1b179', { startTimeUnixNano: '20', endTimeUnixNano: '10' }))),
    expected: rejectedOne,
  });
  cases.push({
    name: 'json end past year 2262',
    contentType: JSON_TYPE,
    body: text(jsonRequest(jsonSpan('eee19b7ec3c1b179', { endTimeUnixNano: '18446744073709551615' }))),
    expected: rejectedOne,
  });
  return cases;
}

/**
 * JSON nulls. proto3 JSON reads null as the field's default, so a null field
 * is absent. A null where a message or list element is required rejects the
 * request.
 */
export function listNullCases(): FuzzCase[] {
  const cases: FuzzCase[] = [
    { name: 'json null body', contentType: JSON_TYPE, body: text('null'), expected: invalidJsonField },
    { name: 'json null resourceSpans', contentType: JSON_TYPE, body: text('{"resourceSpans":null}'), expected: { kind: 'accepted', storedSpans: 0, rejectedSpans: 0 } },
    { name: 'json null resourceSpans element', contentType: JSON_TYPE, body: text('{"resourceSpans":[null]}'), expected: invalidJsonField },
    { name: 'json null span', contentType: JSON_TYPE, body: text('{"resourceSpans":[{"scopeSpans":[{"spans":[null]}]}]}'), expected: invalidJsonField },
    { name: 'json null attribute', contentType: JSON_TYPE, body: text(jsonRequest(jsonSpan('eee19b7ec3c1b17a', { attributes: [null] }))), expected: invalidJsonField },
    { name: 'json array body', contentType: JSON_TYPE, body: text('[]'), expected: invalidJsonField },
    { name: 'json string body', contentType: JSON_TYPE, body: text('"resourceSpans"'), expected: invalidJsonField },
  ];
  const nullableFields = ['traceState', 'parentSpanId', 'kind', 'attributes', 'events', 'links', 'status', 'droppedAttributesCount', 'flags'];
  for (const field of nullableFields) {
    cases.push({
      name: `json null ${field}`,
      contentType: JSON_TYPE,
      body: text(jsonRequest(jsonSpan('eee19b7ec3c1b17a', { [field]: null }))),
      expected: storedOne,
    });
  }
  cases.push({
    name: 'json null trace id',
    contentType: JSON_TYPE,
    body: text(jsonRequest(jsonSpan('eee19b7ec3c1b17a', { traceId: null }))),
    expected: rejectedOne,
  });
  cases.push({
    name: 'json null attribute value',
    contentType: JSON_TYPE,
    body: text(jsonRequest(jsonSpan('eee19b7ec3c1b17a', { attributes: [{ key: 'k', value: null }, { key: 'b', value: { boolValue: null } }] }))),
    expected: storedOne,
  });
  cases.push({
    name: 'json unknown keys everywhere',
    contentType: JSON_TYPE,
    body: text(
      `{"future":1,"resourceSpans":[{"future":{},"resource":{"future":[],"attributes":[]},"scopeSpans":[{"future":null,"scope":{"name":"s","future":"x"},"spans":[${JSON.stringify(
        jsonSpan('eee19b7ec3c1b17b', { future: { nested: [1, 2] }, status: { code: 2, future: true } }),
      )}]}]}]}`,
    ),
    expected: storedOne,
  });
  return cases;
}

// ---------------------------------------------------------------------------
// Reading and checking responses

/** What a receiver response carried, read from its body in the request's encoding. */
export interface FuzzOutcome {
  status: number;
  /** `google.rpc.ErrorInfo.reason` of an error response. */
  code?: string;
  /** `partial_success.rejected_spans` of a 200 response. */
  rejectedSpans: number;
}

/** Reads a receiver response. Throws when the body is not the Status or export response OTLP requires. */
export function readOutcome(status: number, contentType: string | undefined, body: Buffer): FuzzOutcome {
  const isProtobuf = (contentType ?? '').startsWith(PROTOBUF);
  const types = loadOtlpProtoTypes();
  if (status === 200) {
    if (!isProtobuf) {
      const parsed = JSON.parse(body.toString('utf8')) as { partialSuccess?: { rejectedSpans?: string } };
      return { status, rejectedSpans: Number(parsed.partialSuccess?.rejectedSpans ?? 0) };
    }
    const decoded = types.exportTraceServiceResponse.toObject(types.exportTraceServiceResponse.decode(body), { longs: Number }) as {
      partialSuccess?: { rejectedSpans?: number };
    };
    return { status, rejectedSpans: decoded.partialSuccess?.rejectedSpans ?? 0 };
  }
  if (!isProtobuf) {
    const parsed = JSON.parse(body.toString('utf8')) as { details?: { '@type'?: string; reason?: string }[] };
    const info = parsed.details?.find((detail) => detail['@type'] === ERROR_INFO_TYPE_URL);
    return { status, code: info?.reason, rejectedSpans: 0 };
  }
  const rpcStatus = types.rpcStatus.decode(body) as unknown as { details: { typeUrl: string; value: Uint8Array }[] };
  const info = rpcStatus.details.find((detail) => detail.typeUrl === ERROR_INFO_TYPE_URL);
  const reason = info ? (types.errorInfo.decode(info.value) as unknown as { reason: string }).reason : undefined;
  return { status, code: reason, rejectedSpans: 0 };
}

const CATALOGUE_STATUS_BY_CODE = new Map<string, number>(
  Object.values(COLLECTOR_ERRORS).map((definition) => [definition.code, definition.httpStatus]),
);

/**
 * Returns what is wrong with `outcome` for `fuzzCase`, or undefined when it
 * matches. `storedSpans` is the number of rows the store received for the
 * request, or undefined when the caller cannot tell.
 */
export function findOutcomeMismatch(fuzzCase: FuzzCase, outcome: FuzzOutcome, storedSpans: number | undefined): string | undefined {
  const { expected } = fuzzCase;
  const seen = `status ${outcome.status}, code ${outcome.code ?? '(none)'}, rejected ${outcome.rejectedSpans}, stored ${storedSpans ?? '?'}`;
  if (expected.kind === 'error') {
    if (outcome.status !== expected.status || outcome.code !== expected.code) {
      return `expected status ${expected.status} with ${expected.code}, received ${seen}`;
    }
    return undefined;
  }
  if (expected.kind === 'accepted') {
    const storedMatches = storedSpans === undefined || storedSpans === expected.storedSpans;
    if (outcome.status !== 200 || outcome.rejectedSpans !== expected.rejectedSpans || !storedMatches) {
      return `expected 200 with ${expected.storedSpans} stored and ${expected.rejectedSpans} rejected, received ${seen}`;
    }
    return undefined;
  }
  if (outcome.status === 200) return undefined;
  if (outcome.status < 400 || outcome.status >= 500) return `expected 200 or a 4xx, received ${seen}`;
  if (outcome.code === undefined || CATALOGUE_STATUS_BY_CODE.get(outcome.code) !== outcome.status) {
    return `expected a catalogue code for status ${outcome.status}, received ${seen}`;
  }
  return undefined;
}
