import { isUtf8 } from 'node:buffer';
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

const EMPTY_BYTES = new Uint8Array(0);

/** Maximum depth of groups nested in an unknown field, the message depth the receiver accepted through protobufjs. */
const MAX_GROUP_DEPTH = 100;

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LENGTH_DELIMITED = 2;
const WIRE_START_GROUP = 3;
const WIRE_END_GROUP = 4;
const WIRE_FIXED32 = 5;

/**
 * Decodes a binary protobuf `ExportTraceServiceRequest`, field numbers as in
 * opentelemetry-proto v1 (see `proto-schema.ts`). Throws
 * `COLLECTOR_ERR_INVALID_PROTOBUF` on truncated or malformed input,
 * including invalid UTF-8 in a `string` field, and
 * `COLLECTOR_ERR_NESTING_TOO_DEEP` for an attribute nested deeper than
 * `MAX_ANY_VALUE_DEPTH` or unknown groups nested deeper than
 * `MAX_GROUP_DEPTH`. A known field with an unexpected wire type is skipped
 * like an unknown field, and of a singular message field sent twice the last
 * one counts.
 *
 * The decoder reads the wire format itself instead of through protobufjs
 * message objects, because decoding was the receiver's largest cost.
 */
export function decodeProtobufTraceRequest(body: Uint8Array): OtlpTraceRequest {
  const reader = new WireReader(body);
  return { resourceSpans: readList(reader, body.length, (itemEnd) => readResourceSpans(reader, itemEnd)) };
}

/**
 * Reads the messages of field 1 in a message where that repeated field is
 * the only one read: a request's resource spans, a resource's attributes,
 * and the values of an `ArrayValue` or a `KeyValueList`.
 */
export function readList<T>(reader: WireReader, end: number, readItem: (itemEnd: number) => T): T[] {
  const items: T[] = [];
  while (reader.pos < end) {
    const tag = reader.uint32(end);
    if (tag === ((1 << 3) | WIRE_LENGTH_DELIMITED)) items.push(readItem(reader.length(end)));
    else reader.skip(tag, end);
  }
  return items;
}

function readResourceSpans(reader: WireReader, end: number): OtlpResourceSpans {
  let attributes: OtlpKeyValue[] = [];
  const scopeSpans: OtlpScopeSpans[] = [];
  let schemaUrl = '';
  while (reader.pos < end) {
    const tag = reader.uint32(end);
    switch (tag) {
      case (1 << 3) | WIRE_LENGTH_DELIMITED:
        attributes = readList(reader, reader.length(end), (itemEnd) => readKeyValue(reader, itemEnd, 0));
        break;
      case (2 << 3) | WIRE_LENGTH_DELIMITED:
        scopeSpans.push(readScopeSpans(reader, reader.length(end)));
        break;
      case (3 << 3) | WIRE_LENGTH_DELIMITED:
        schemaUrl = reader.string(end);
        break;
      default:
        reader.skip(tag, end);
    }
  }
  return { resource: { attributes }, scopeSpans, schemaUrl };
}

function readScopeSpans(reader: WireReader, end: number): OtlpScopeSpans {
  let scope: OtlpInstrumentationScope = { name: '', version: '', attributes: [] };
  const spans: OtlpSpan[] = [];
  let schemaUrl = '';
  while (reader.pos < end) {
    const tag = reader.uint32(end);
    switch (tag) {
      case (1 << 3) | WIRE_LENGTH_DELIMITED:
        scope = readScope(reader, reader.length(end));
        break;
      case (2 << 3) | WIRE_LENGTH_DELIMITED:
        spans.push(readSpan(reader, reader.length(end)));
        break;
      case (3 << 3) | WIRE_LENGTH_DELIMITED:
        schemaUrl = reader.string(end);
        break;
      default:
        reader.skip(tag, end);
    }
  }
  return { scope, spans, schemaUrl };
}

export function readScope(reader: WireReader, end: number): OtlpInstrumentationScope {
  const scope: OtlpInstrumentationScope = { name: '', version: '', attributes: [] };
  while (reader.pos < end) {
    const tag = reader.uint32(end);
    switch (tag) {
      case (1 << 3) | WIRE_LENGTH_DELIMITED:
        scope.name = reader.string(end);
        break;
      case (2 << 3) | WIRE_LENGTH_DELIMITED:
        scope.version = reader.string(end);
        break;
      case (3 << 3) | WIRE_LENGTH_DELIMITED:
        scope.attributes.push(readKeyValue(reader, reader.length(end), 0));
        break;
      default:
        reader.skip(tag, end);
    }
  }
  return scope;
}

function readSpan(reader: WireReader, end: number): OtlpSpan {
  const span: OtlpSpan = {
    traceId: EMPTY_BYTES,
    spanId: EMPTY_BYTES,
    traceState: '',
    parentSpanId: EMPTY_BYTES,
    name: '',
    kind: 0,
    startTimeUnixNano: 0n,
    endTimeUnixNano: 0n,
    attributes: [],
    events: [],
    links: [],
    status: { code: 0, message: '' },
  };
  while (reader.pos < end) {
    const tag = reader.uint32(end);
    switch (tag) {
      case (1 << 3) | WIRE_LENGTH_DELIMITED:
        span.traceId = reader.bytes(end);
        break;
      case (2 << 3) | WIRE_LENGTH_DELIMITED:
        span.spanId = reader.bytes(end);
        break;
      case (3 << 3) | WIRE_LENGTH_DELIMITED:
        span.traceState = reader.string(end);
        break;
      case (4 << 3) | WIRE_LENGTH_DELIMITED:
        span.parentSpanId = reader.bytes(end);
        break;
      case (5 << 3) | WIRE_LENGTH_DELIMITED:
        span.name = reader.string(end);
        break;
      case (6 << 3) | WIRE_VARINT:
        span.kind = reader.int32(end);
        break;
      case (7 << 3) | WIRE_FIXED64:
        span.startTimeUnixNano = reader.fixed64(end);
        break;
      case (8 << 3) | WIRE_FIXED64:
        span.endTimeUnixNano = reader.fixed64(end);
        break;
      case (9 << 3) | WIRE_LENGTH_DELIMITED:
        span.attributes.push(readKeyValue(reader, reader.length(end), 0));
        break;
      case (11 << 3) | WIRE_LENGTH_DELIMITED:
        span.events.push(readEvent(reader, reader.length(end)));
        break;
      case (13 << 3) | WIRE_LENGTH_DELIMITED:
        span.links.push(readLink(reader, reader.length(end)));
        break;
      case (15 << 3) | WIRE_LENGTH_DELIMITED:
        span.status = readStatus(reader, reader.length(end));
        break;
      default:
        reader.skip(tag, end);
    }
  }
  return span;
}

function readStatus(reader: WireReader, end: number): OtlpSpan['status'] {
  const status = { code: 0, message: '' };
  while (reader.pos < end) {
    const tag = reader.uint32(end);
    if (tag === ((2 << 3) | WIRE_LENGTH_DELIMITED)) status.message = reader.string(end);
    else if (tag === ((3 << 3) | WIRE_VARINT)) status.code = reader.int32(end);
    else reader.skip(tag, end);
  }
  return status;
}

function readEvent(reader: WireReader, end: number): OtlpSpanEvent {
  const event: OtlpSpanEvent = { timeUnixNano: 0n, name: '', attributes: [] };
  while (reader.pos < end) {
    const tag = reader.uint32(end);
    switch (tag) {
      case (1 << 3) | WIRE_FIXED64:
        event.timeUnixNano = reader.fixed64(end);
        break;
      case (2 << 3) | WIRE_LENGTH_DELIMITED:
        event.name = reader.string(end);
        break;
      case (3 << 3) | WIRE_LENGTH_DELIMITED:
        event.attributes.push(readKeyValue(reader, reader.length(end), 0));
        break;
      default:
        reader.skip(tag, end);
    }
  }
  return event;
}

function readLink(reader: WireReader, end: number): OtlpSpanLink {
  const link: OtlpSpanLink = { traceId: EMPTY_BYTES, spanId: EMPTY_BYTES, traceState: '', attributes: [] };
  while (reader.pos < end) {
    const tag = reader.uint32(end);
    switch (tag) {
      case (1 << 3) | WIRE_LENGTH_DELIMITED:
        link.traceId = reader.bytes(end);
        break;
      case (2 << 3) | WIRE_LENGTH_DELIMITED:
        link.spanId = reader.bytes(end);
        break;
      case (3 << 3) | WIRE_LENGTH_DELIMITED:
        link.traceState = reader.string(end);
        break;
      case (4 << 3) | WIRE_LENGTH_DELIMITED:
        link.attributes.push(readKeyValue(reader, reader.length(end), 0));
        break;
      default:
        reader.skip(tag, end);
    }
  }
  return link;
}

/** `depth` is the nesting level of the list's parent `AnyValue`, 0 for a span's own attributes. */
export function readKeyValue(reader: WireReader, end: number, depth: number): OtlpKeyValue {
  let key = '';
  let value: OtlpAnyValue = { type: 'empty' };
  while (reader.pos < end) {
    const tag = reader.uint32(end);
    if (tag === ((1 << 3) | WIRE_LENGTH_DELIMITED)) key = reader.string(end);
    else if (tag === ((2 << 3) | WIRE_LENGTH_DELIMITED)) value = readAnyValue(reader, reader.length(end), depth + 1);
    else reader.skip(tag, end);
  }
  return { key, value };
}

/**
 * Reads an `AnyValue`. A well-formed one sets one member of its oneof. When
 * several are set, the last occurrence of each counts, and the first in the
 * order checked at the end wins.
 */
export function readAnyValue(reader: WireReader, end: number, depth: number): OtlpAnyValue {
  if (depth > MAX_ANY_VALUE_DEPTH) {
    throw createCollectorError(
      'nestingTooDeep',
      { field: 'attributes', maxDepth: MAX_ANY_VALUE_DEPTH, levels: 'levels of arrayValue and kvlistValue' },
      { field: 'attributes' },
    );
  }
  let stringValue: string | undefined;
  let boolValue: boolean | undefined;
  let intValue: bigint | undefined;
  let doubleValue: number | undefined;
  let bytesValue: Uint8Array | undefined;
  let arrayValue: OtlpAnyValue[] | undefined;
  let kvlistValue: OtlpKeyValue[] | undefined;
  while (reader.pos < end) {
    const tag = reader.uint32(end);
    switch (tag) {
      case (1 << 3) | WIRE_LENGTH_DELIMITED:
        stringValue = reader.string(end);
        break;
      case (2 << 3) | WIRE_VARINT:
        boolValue = reader.uint32(end) !== 0;
        break;
      case (3 << 3) | WIRE_VARINT:
        intValue = reader.int64(end);
        break;
      case (4 << 3) | WIRE_FIXED64:
        doubleValue = reader.double(end);
        break;
      case (5 << 3) | WIRE_LENGTH_DELIMITED:
        arrayValue = readList(reader, reader.length(end), (itemEnd) => readAnyValue(reader, itemEnd, depth + 1));
        break;
      case (6 << 3) | WIRE_LENGTH_DELIMITED:
        kvlistValue = readList(reader, reader.length(end), (itemEnd) => readKeyValue(reader, itemEnd, depth));
        break;
      case (7 << 3) | WIRE_LENGTH_DELIMITED:
        bytesValue = reader.bytes(end);
        break;
      default:
        reader.skip(tag, end);
    }
  }
  if (stringValue !== undefined) return { type: 'string', value: stringValue };
  if (boolValue !== undefined) return { type: 'bool', value: boolValue };
  if (intValue !== undefined) return { type: 'int', value: intValue };
  if (doubleValue !== undefined) return { type: 'double', value: doubleValue };
  if (bytesValue !== undefined) return { type: 'bytes', value: bytesValue };
  if (arrayValue !== undefined) return { type: 'array', values: arrayValue };
  if (kvlistValue !== undefined) return { type: 'kvlist', values: kvlistValue };
  return { type: 'empty' };
}

/** Longest ASCII string kept in the string cache. */
const MAX_CACHED_STRING_BYTES = 64;

/** Slots of the string cache, a power of two. */
const STRING_CACHE_SLOTS = 4096;

/**
 * Recently decoded short ASCII strings, one per slot by hash. Attribute keys,
 * service and span names repeat in every span. Reusing their strings saves
 * an allocation each, about a quarter of the decoding time on the ingest
 * benchmark's requests.
 */
const stringCache: Array<string | undefined> = new Array<string | undefined>(STRING_CACHE_SLOTS).fill(undefined);

function cachedAscii(buf: Buffer, start: number, stop: number, hash: number): string {
  const slot = hash & (STRING_CACHE_SLOTS - 1);
  const cached = stringCache[slot];
  if (cached !== undefined && cached.length === stop - start) {
    let index = 0;
    while (index < cached.length && cached.charCodeAt(index) === buf[start + index]) index++;
    if (index === cached.length) return cached;
  }
  const text = buf.toString('latin1', start, stop);
  stringCache[slot] = text;
  return text;
}

function invalid(reason: string): never {
  throw createCollectorError('invalidProtobuf', { reason });
}

/**
 * Reads protobuf wire-format values from a buffer. Every read takes the end
 * of the enclosing message, so a length that runs past it is an error instead
 * of a read of the next field.
 */
export class WireReader {
  pos = 0;
  readonly buf: Buffer;

  constructor(body: Uint8Array) {
    this.buf = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  }

  /** Reads a varint and keeps its low 32 bits, unsigned. */
  uint32(end: number): number {
    const buf = this.buf;
    let value = 0;
    for (let shift = 0; shift < 70; shift += 7) {
      if (this.pos >= end) this.truncated();
      const byte = buf[this.pos++]!;
      if (shift < 32) value |= (byte & 0x7f) << shift;
      if (byte < 0x80) return value >>> 0;
    }
    return invalid(`varint longer than 10 bytes at offset ${this.pos}`);
  }

  int32(end: number): number {
    return this.uint32(end) | 0;
  }

  /** Reads a varint as a signed 64-bit integer. */
  int64(end: number): bigint {
    const start = this.pos;
    const buf = this.buf;
    // Up to seven bytes hold 49 bits, exact as a number.
    let value = 0;
    for (let index = 0; index < 7; index++) {
      if (this.pos >= end) this.truncated();
      const byte = buf[this.pos++]!;
      value += (byte & 0x7f) * 2 ** (7 * index);
      if (byte < 0x80) return BigInt(value);
    }
    this.pos = start;
    let bits = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (this.pos >= end) this.truncated();
      const byte = buf[this.pos++]!;
      bits |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return BigInt.asIntN(64, bits);
    }
    return invalid(`varint longer than 10 bytes at offset ${this.pos}`);
  }

  fixed64(end: number): bigint {
    this.need(8, end);
    const value = this.buf.readBigUInt64LE(this.pos);
    this.pos += 8;
    return value;
  }

  double(end: number): number {
    this.need(8, end);
    const value = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return value;
  }

  /** Reads the length of a length-delimited field and returns where its bytes end. */
  length(end: number): number {
    const length = this.uint32(end);
    this.need(length, end);
    return this.pos + length;
  }

  /** Skips a fixed64 field and returns the offset of its eight bytes. */
  fixed64Offset(end: number): number {
    this.need(8, end);
    const offset = this.pos;
    this.pos += 8;
    return offset;
  }

  /** Skips a `bytes` field and returns the offset of its first byte. The bytes end at `pos`. */
  bytesStart(end: number): number {
    const stop = this.length(end);
    const start = this.pos;
    this.pos = stop;
    return start;
  }

  /**
   * Checks a `string` field like `string` does, without building the string,
   * and returns the offset of its first UTF-8 byte. The bytes end at `pos`.
   */
  stringStart(end: number): number {
    const start = this.bytesStart(end);
    const stop = this.pos;
    const buf = this.buf;
    for (let index = start; index < stop; index++) {
      if (buf[index]! >= 0x80) {
        this.requireUtf8(start, stop);
        break;
      }
    }
    return start;
  }

  /** Returns a view of a `bytes` field, which shares the request body's memory. */
  bytes(end: number): Uint8Array {
    const stop = this.length(end);
    const start = this.pos;
    this.pos = stop;
    return start === stop ? EMPTY_BYTES : this.buf.subarray(start, stop);
  }

  string(end: number): string {
    const stop = this.length(end);
    const start = this.pos;
    this.pos = stop;
    const buf = this.buf;
    let hash = 0;
    let index = start;
    for (; index < stop; index++) {
      const byte = buf[index]!;
      if (byte >= 0x80) break;
      hash = (Math.imul(hash, 31) + byte) | 0;
    }
    // ASCII needs no validation, and most names and values are ASCII.
    if (index === stop) return stop - start <= MAX_CACHED_STRING_BYTES ? cachedAscii(buf, start, stop, hash) : buf.toString('latin1', start, stop);
    this.requireUtf8(start, stop);
    return buf.toString('utf8', start, stop);
  }

  private requireUtf8(start: number, stop: number): void {
    if (!isUtf8(this.buf.subarray(start, stop))) invalid(`invalid UTF-8 in a string field at offset ${start}`);
  }

  /** Skips the value of a field this decoder does not read, given its tag. */
  skip(tag: number, end: number): void {
    const wireType = tag & 7;
    if (tag >>> 3 === 0) invalid(`field number 0 at offset ${this.pos}`);
    switch (wireType) {
      case WIRE_VARINT:
        this.uint32(end);
        return;
      case WIRE_FIXED64:
        this.need(8, end);
        this.pos += 8;
        return;
      case WIRE_LENGTH_DELIMITED:
        this.pos = this.length(end);
        return;
      case WIRE_START_GROUP:
        this.skipGroup(tag >>> 3, end);
        return;
      case WIRE_FIXED32:
        this.need(4, end);
        this.pos += 4;
        return;
      default:
        invalid(`invalid wire type ${wireType} at offset ${this.pos}`);
    }
  }

  /** Skips a group up to its end tag, with the groups nested in it. */
  private skipGroup(field: number, end: number): void {
    const open = [field];
    while (open.length > 0) {
      if (open.length > MAX_GROUP_DEPTH) {
        throw createCollectorError(
          'nestingTooDeep',
          { field: '(protobuf)', maxDepth: MAX_GROUP_DEPTH, levels: 'nested messages' },
          { field: '' },
        );
      }
      const tag = this.uint32(end);
      const wireType = tag & 7;
      if (wireType === WIRE_END_GROUP) {
        if (tag >>> 3 !== open.pop()) invalid(`end of group ${tag >>> 3} without its start at offset ${this.pos}`);
      } else if (wireType === WIRE_START_GROUP) {
        if (tag >>> 3 === 0) invalid(`field number 0 at offset ${this.pos}`);
        open.push(tag >>> 3);
      } else {
        this.skip(tag, end);
      }
    }
  }

  private need(length: number, end: number): void {
    if (length > end - this.pos) this.truncated();
  }

  private truncated(): never {
    return invalid(`message truncated at offset ${this.pos}`);
  }
}
