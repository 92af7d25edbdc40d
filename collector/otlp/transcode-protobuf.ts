import type { EncodedRows } from '../ingest/insert-batch.js';
import { isAllZero, RowBinaryWriter } from '../ingest/row-binary.js';
import { formatAttributeValue } from './attribute-values.js';
import {
  readAnyValue,
  readKeyValue,
  readList,
  readScope,
  WIRE_FIXED64,
  WIRE_LENGTH_DELIMITED,
  WIRE_VARINT,
  WireReader,
} from './decode-protobuf.js';
import {
  describeRejections,
  findSpanProblem,
  SPAN_KIND_NAMES,
  STATUS_CODE_NAMES,
  type SpanIdsAndTimes,
} from './to-trace-rows.js';
import { encodeResource, encodeScope, TRACE_ROW_BINARY_HEADER, writeAttributeMap } from './trace-row-binary.js';
import type { OtlpAnyValue, OtlpInstrumentationScope, OtlpKeyValue } from './types.js';

/** The storable spans of a request as `otel_traces` rows, and the spans left out for an OTLP partial success. */
export interface TranscodedTraces {
  rows: EncodedRows;
  spanCount: number;
  rejectedSpans: number;
  /** Empty when no span was rejected. */
  errorMessage: string;
}

/**
 * Encodes a binary protobuf `ExportTraceServiceRequest` straight into
 * `otel_traces` rows in RowBinaryWithNamesAndTypes. The rows, the rejected
 * spans and the errors thrown are those of `decodeProtobufTraceRequest`,
 * `selectStorableSpans` and `encodeTraceRowBinary` one after another, but no
 * span becomes an object: ids, names and string attributes are copied from
 * the body into the row. Other attribute values, resources and scopes are
 * decoded as before.
 *
 * Where a request holds two errors, the first one met is thrown. This reads
 * a resource before its scopes and a scope before its spans, wherever they
 * sit in the message, so of two errors of different codes it may report the
 * other one than `decodeProtobufTraceRequest`.
 */
export function transcodeProtobufTraces(body: Uint8Array): TranscodedTraces {
  const transcoder = new TraceTranscoder(body);
  transcoder.readRequest();
  return transcoder.finish();
}

const TAG_FIELD_1_BYTES = (1 << 3) | WIRE_LENGTH_DELIMITED;
const TAG_FIELD_2_BYTES = (2 << 3) | WIRE_LENGTH_DELIMITED;
const TAG_FIELD_3_BYTES = (3 << 3) | WIRE_LENGTH_DELIMITED;
const TAG_FIELD_4_BYTES = (4 << 3) | WIRE_LENGTH_DELIMITED;

/** Tags of the `AnyValue` members other than `string_value`, as `readAnyValue` reads them. */
const OTHER_ANY_VALUE_TAGS: ReadonlySet<number> = new Set([
  (2 << 3) | WIRE_VARINT,
  (3 << 3) | WIRE_VARINT,
  (4 << 3) | WIRE_FIXED64,
  (5 << 3) | WIRE_LENGTH_DELIMITED,
  (6 << 3) | WIRE_LENGTH_DELIMITED,
  (7 << 3) | WIRE_LENGTH_DELIMITED,
]);

/** How an attribute's value is held: absent, as string bytes in the body, or decoded. */
const VALUE_EMPTY = 0;
const VALUE_STRING = 1;
const VALUE_DECODED = 2;

/** Fields of an attribute record: its key's bytes, the value kind and the value's bytes or decoded index. */
const ATTRIBUTE_STRIDE = 5;
/** Fields of an event record: the offset of its time (-1 when absent), its name's bytes, its first attribute and their count. */
const EVENT_STRIDE = 5;
/** Fields of a link record: the bytes of its trace id, span id and trace state, its first attribute and their count. */
const LINK_STRIDE = 8;

/** Lists below this length are checked pairwise for a repeated key, as in `writeAttributeMap`. */
const PAIRWISE_CHECK_MAX_LENGTH = 16;

/** The first 32 bits above the largest instant DateTime64(9) holds, 2^63 - 1 ns. */
const MAX_DATETIME64_HIGH_WORD = 0x7fffffff;

const UINT32_RANGE = 2 ** 32;

/** Bytes of the buffer that rows are written into before they are copied out. */
const INITIAL_SCRATCH_BYTES = 1024 * 1024;

/** Largest scratch buffer kept for the next request; a larger one, grown for a large request, is dropped. */
const MAX_KEPT_SCRATCH_BYTES = 8 * 1024 * 1024;

/**
 * The buffer that each request's rows are written into, reused from request
 * to request because a transcoder runs to its end without waiting. Each
 * request's rows leave it as a copy of their size, so no allocation per
 * request is larger than its rows.
 */
let scratch: Buffer = Buffer.allocUnsafe(INITIAL_SCRATCH_BYTES);

/** Records of a fixed number of fields in one array, reused from span to span. */
class RecordList {
  readonly values: number[] = [];
  count = 0;

  constructor(readonly stride: number) {}

  /** Adds a record and returns the index of its first field. */
  add(): number {
    return this.count++ * this.stride;
  }

  field(record: number, field: number): number {
    return this.values[record * this.stride + field]!;
  }
}

/** Where the fields of the span being read sit in the body. Offsets of absent bytes are equal start and end. */
interface SpanLayout {
  traceIdStart: number;
  traceIdEnd: number;
  spanIdStart: number;
  spanIdEnd: number;
  traceStateStart: number;
  traceStateEnd: number;
  parentStart: number;
  parentEnd: number;
  nameStart: number;
  nameEnd: number;
  kind: number;
  /** Offset of the start time's eight bytes, -1 when absent. */
  startOffset: number;
  endOffset: number;
  statusCode: number;
  statusMessageStart: number;
  statusMessageEnd: number;
}

function createSpanLayout(): SpanLayout {
  return {
    traceIdStart: 0,
    traceIdEnd: 0,
    spanIdStart: 0,
    spanIdEnd: 0,
    traceStateStart: 0,
    traceStateEnd: 0,
    parentStart: 0,
    parentEnd: 0,
    nameStart: 0,
    nameEnd: 0,
    kind: 0,
    startOffset: -1,
    endOffset: -1,
    statusCode: 0,
    statusMessageStart: 0,
    statusMessageEnd: 0,
  };
}

/**
 * Reads one request. Each span is read whole first, recording where its
 * fields sit, because a row's columns come in another order than a span's
 * fields may, and a rejected span must leave no bytes behind.
 */
class TraceTranscoder {
  readonly #reader: WireReader;
  readonly #body: Buffer;
  readonly #writer: RowBinaryWriter;
  #span = createSpanLayout();
  readonly #spanAttributes = new RecordList(ATTRIBUTE_STRIDE);
  /** Attributes of the span's events and links; each event's and link's are adjacent. */
  readonly #nestedAttributes = new RecordList(ATTRIBUTE_STRIDE);
  readonly #events = new RecordList(EVENT_STRIDE);
  readonly #links = new RecordList(LINK_STRIDE);
  /** Attribute values other than strings, decoded, for the span being read. */
  #decodedValues: OtlpAnyValue[] = [];
  readonly #reasons = new Map<string, number>();
  #spanCount = 0;
  #totalSpans = 0;

  constructor(body: Uint8Array) {
    this.#reader = new WireReader(body);
    this.#body = this.#reader.buf;
    this.#writer = new RowBinaryWriter(INITIAL_SCRATCH_BYTES, scratch);
  }

  readRequest(): void {
    const reader = this.#reader;
    const end = this.#body.length;
    while (reader.pos < end) {
      const tag = reader.uint32(end);
      if (tag === TAG_FIELD_1_BYTES) this.#readResourceSpans(reader.length(end));
      else reader.skip(tag, end);
    }
  }

  finish(): TranscodedTraces {
    if (this.#writer.buffer.length <= MAX_KEPT_SCRATCH_BYTES) scratch = this.#writer.buffer;
    const rejectedSpans = this.#totalSpans - this.#spanCount;
    return {
      rows: {
        format: 'RowBinaryWithNamesAndTypes',
        rowCount: this.#spanCount,
        header: TRACE_ROW_BINARY_HEADER,
        body: this.#writer.toBuffer(),
      },
      spanCount: this.#spanCount,
      rejectedSpans,
      errorMessage: describeRejections(this.#reasons, rejectedSpans, this.#totalSpans),
    };
  }

  #readResourceSpans(end: number): void {
    const reader = this.#reader;
    let attributes: OtlpKeyValue[] = [];
    const scopeSpans: number[] = [];
    while (reader.pos < end) {
      const tag = reader.uint32(end);
      switch (tag) {
        case TAG_FIELD_1_BYTES:
          attributes = readList(reader, reader.length(end), (itemEnd) => readKeyValue(reader, itemEnd, 0));
          break;
        case TAG_FIELD_2_BYTES:
          scopeSpans.push(reader.bytesStart(end), reader.pos);
          break;
        case TAG_FIELD_3_BYTES:
          reader.stringStart(end);
          break;
        default:
          reader.skip(tag, end);
      }
    }
    const resource = encodeResource(attributes);
    for (let index = 0; index < scopeSpans.length; index += 2) {
      reader.pos = scopeSpans[index]!;
      this.#readScopeSpans(scopeSpans[index + 1]!, resource);
    }
    reader.pos = end;
  }

  #readScopeSpans(end: number, resource: Buffer): void {
    const reader = this.#reader;
    let scope: OtlpInstrumentationScope | undefined;
    const spans: number[] = [];
    while (reader.pos < end) {
      const tag = reader.uint32(end);
      switch (tag) {
        case TAG_FIELD_1_BYTES:
          scope = readScope(reader, reader.length(end));
          break;
        case TAG_FIELD_2_BYTES:
          spans.push(reader.bytesStart(end), reader.pos);
          break;
        case TAG_FIELD_3_BYTES:
          reader.stringStart(end);
          break;
        default:
          reader.skip(tag, end);
      }
    }
    const scopeBytes = encodeScope(scope?.name ?? '', scope?.version ?? '');
    for (let index = 0; index < spans.length; index += 2) {
      reader.pos = spans[index]!;
      this.#readSpan(spans[index + 1]!);
      this.#totalSpans++;
      const reason = this.#isStorable() ? undefined : findSpanProblem(this.#describeSpan());
      if (reason === undefined) {
        this.#spanCount++;
        this.#writeSpan(resource, scopeBytes);
      } else {
        this.#reasons.set(reason, (this.#reasons.get(reason) ?? 0) + 1);
      }
    }
    reader.pos = end;
  }

  /** Reads a span's fields as `readSpan` does, checking every string and attribute, and records where they sit. */
  #readSpan(end: number): void {
    const reader = this.#reader;
    const span = createSpanLayout();
    this.#span = span;
    this.#spanAttributes.count = 0;
    this.#nestedAttributes.count = 0;
    this.#events.count = 0;
    this.#links.count = 0;
    this.#decodedValues = [];
    while (reader.pos < end) {
      const tag = reader.uint32(end);
      switch (tag) {
        case TAG_FIELD_1_BYTES:
          span.traceIdStart = reader.bytesStart(end);
          span.traceIdEnd = reader.pos;
          break;
        case TAG_FIELD_2_BYTES:
          span.spanIdStart = reader.bytesStart(end);
          span.spanIdEnd = reader.pos;
          break;
        case TAG_FIELD_3_BYTES:
          span.traceStateStart = reader.stringStart(end);
          span.traceStateEnd = reader.pos;
          break;
        case TAG_FIELD_4_BYTES:
          span.parentStart = reader.bytesStart(end);
          span.parentEnd = reader.pos;
          break;
        case (5 << 3) | WIRE_LENGTH_DELIMITED:
          span.nameStart = reader.stringStart(end);
          span.nameEnd = reader.pos;
          break;
        case (6 << 3) | WIRE_VARINT:
          span.kind = reader.int32(end);
          break;
        case (7 << 3) | WIRE_FIXED64:
          span.startOffset = reader.fixed64Offset(end);
          break;
        case (8 << 3) | WIRE_FIXED64:
          span.endOffset = reader.fixed64Offset(end);
          break;
        case (9 << 3) | WIRE_LENGTH_DELIMITED:
          this.#readKeyValue(this.#spanAttributes, reader.length(end));
          break;
        case (11 << 3) | WIRE_LENGTH_DELIMITED:
          this.#readEvent(reader.length(end));
          break;
        case (13 << 3) | WIRE_LENGTH_DELIMITED:
          this.#readLink(reader.length(end));
          break;
        case (15 << 3) | WIRE_LENGTH_DELIMITED:
          this.#readStatus(reader.length(end));
          break;
        default:
          reader.skip(tag, end);
      }
    }
  }

  /** Reads a status as `readStatus` does: a later status replaces an earlier one whole. */
  #readStatus(end: number): void {
    const reader = this.#reader;
    const span = this.#span;
    span.statusCode = 0;
    span.statusMessageStart = 0;
    span.statusMessageEnd = 0;
    while (reader.pos < end) {
      const tag = reader.uint32(end);
      if (tag === TAG_FIELD_2_BYTES) {
        span.statusMessageStart = reader.stringStart(end);
        span.statusMessageEnd = reader.pos;
      } else if (tag === ((3 << 3) | WIRE_VARINT)) {
        span.statusCode = reader.int32(end);
      } else {
        reader.skip(tag, end);
      }
    }
  }

  #readEvent(end: number): void {
    const reader = this.#reader;
    const attributes = this.#nestedAttributes;
    const firstAttribute = attributes.count;
    let timeOffset = -1;
    let nameStart = 0;
    let nameEnd = 0;
    while (reader.pos < end) {
      const tag = reader.uint32(end);
      switch (tag) {
        case (1 << 3) | WIRE_FIXED64:
          timeOffset = reader.fixed64Offset(end);
          break;
        case TAG_FIELD_2_BYTES:
          nameStart = reader.stringStart(end);
          nameEnd = reader.pos;
          break;
        case TAG_FIELD_3_BYTES:
          this.#readKeyValue(attributes, reader.length(end));
          break;
        default:
          reader.skip(tag, end);
      }
    }
    const events = this.#events;
    const at = events.add();
    events.values[at] = timeOffset;
    events.values[at + 1] = nameStart;
    events.values[at + 2] = nameEnd;
    events.values[at + 3] = firstAttribute;
    events.values[at + 4] = attributes.count - firstAttribute;
  }

  #readLink(end: number): void {
    const reader = this.#reader;
    const attributes = this.#nestedAttributes;
    const firstAttribute = attributes.count;
    let traceIdStart = 0;
    let traceIdEnd = 0;
    let spanIdStart = 0;
    let spanIdEnd = 0;
    let traceStateStart = 0;
    let traceStateEnd = 0;
    while (reader.pos < end) {
      const tag = reader.uint32(end);
      switch (tag) {
        case TAG_FIELD_1_BYTES:
          traceIdStart = reader.bytesStart(end);
          traceIdEnd = reader.pos;
          break;
        case TAG_FIELD_2_BYTES:
          spanIdStart = reader.bytesStart(end);
          spanIdEnd = reader.pos;
          break;
        case TAG_FIELD_3_BYTES:
          traceStateStart = reader.stringStart(end);
          traceStateEnd = reader.pos;
          break;
        case TAG_FIELD_4_BYTES:
          this.#readKeyValue(attributes, reader.length(end));
          break;
        default:
          reader.skip(tag, end);
      }
    }
    const links = this.#links;
    const at = links.add();
    const values = links.values;
    values[at] = traceIdStart;
    values[at + 1] = traceIdEnd;
    values[at + 2] = spanIdStart;
    values[at + 3] = spanIdEnd;
    values[at + 4] = traceStateStart;
    values[at + 5] = traceStateEnd;
    values[at + 6] = firstAttribute;
    values[at + 7] = attributes.count - firstAttribute;
  }

  /**
   * Reads a `KeyValue` as `readKeyValue` does and adds it to `list`. A value
   * that holds only a string stays in the body; any other member makes
   * `readAnyValue` decode the whole value.
   */
  #readKeyValue(list: RecordList, end: number): void {
    const reader = this.#reader;
    let keyStart = 0;
    let keyEnd = 0;
    let valueKind = VALUE_EMPTY;
    let valueStart = 0;
    let valueEnd = 0;
    while (reader.pos < end) {
      const tag = reader.uint32(end);
      if (tag === TAG_FIELD_1_BYTES) {
        keyStart = reader.stringStart(end);
        keyEnd = reader.pos;
      } else if (tag === TAG_FIELD_2_BYTES) {
        const valueStop = reader.length(end);
        const anyValueStart = reader.pos;
        valueKind = VALUE_EMPTY;
        while (reader.pos < valueStop) {
          const valueTag = reader.uint32(valueStop);
          if (valueTag === TAG_FIELD_1_BYTES) {
            valueKind = VALUE_STRING;
            valueStart = reader.stringStart(valueStop);
            valueEnd = reader.pos;
          } else if (OTHER_ANY_VALUE_TAGS.has(valueTag)) {
            reader.pos = anyValueStart;
            valueKind = VALUE_DECODED;
            valueStart = this.#decodedValues.push(readAnyValue(reader, valueStop, 1)) - 1;
          } else {
            reader.skip(valueTag, valueStop);
          }
        }
      } else {
        reader.skip(tag, end);
      }
    }
    const at = list.add();
    const values = list.values;
    values[at] = keyStart;
    values[at + 1] = keyEnd;
    values[at + 2] = valueKind;
    values[at + 3] = valueStart;
    values[at + 4] = valueEnd;
  }

  /** The checks of `findSpanProblem` on the recorded fields, without building a span. */
  #isStorable(): boolean {
    const body = this.#body;
    const span = this.#span;
    if (span.traceIdEnd - span.traceIdStart !== 16 || isAllZero(body, span.traceIdStart, span.traceIdEnd)) return false;
    if (span.spanIdEnd - span.spanIdStart !== 8 || isAllZero(body, span.spanIdStart, span.spanIdEnd)) return false;
    if (!isEmptyOrSized(span.parentEnd - span.parentStart, 8)) return false;
    const links = this.#links;
    for (let link = 0; link < links.count; link++) {
      if (!isEmptyOrSized(links.field(link, 1) - links.field(link, 0), 16)) return false;
      if (!isEmptyOrSized(links.field(link, 3) - links.field(link, 2), 8)) return false;
    }
    const startHigh = this.#readHighWord(span.startOffset);
    const endHigh = this.#readHighWord(span.endOffset);
    if (endHigh < startHigh || (endHigh === startHigh && this.#readLowWord(span.endOffset) < this.#readLowWord(span.startOffset))) {
      return false;
    }
    if (endHigh > MAX_DATETIME64_HIGH_WORD) return false;
    const events = this.#events;
    for (let event = 0; event < events.count; event++) {
      if (this.#readHighWord(events.field(event, 0)) > MAX_DATETIME64_HIGH_WORD) return false;
    }
    return true;
  }

  /** The span as `findSpanProblem` takes it, for the reason it was rejected. */
  #describeSpan(): SpanIdsAndTimes {
    const body = this.#body;
    const span = this.#span;
    const links = [];
    for (let link = 0; link < this.#links.count; link++) {
      links.push({
        traceId: body.subarray(this.#links.field(link, 0), this.#links.field(link, 1)),
        spanId: body.subarray(this.#links.field(link, 2), this.#links.field(link, 3)),
      });
    }
    const events = [];
    for (let event = 0; event < this.#events.count; event++) {
      events.push({ timeUnixNano: this.#readTime(this.#events.field(event, 0)) });
    }
    return {
      traceId: body.subarray(span.traceIdStart, span.traceIdEnd),
      spanId: body.subarray(span.spanIdStart, span.spanIdEnd),
      parentSpanId: body.subarray(span.parentStart, span.parentEnd),
      startTimeUnixNano: this.#readTime(span.startOffset),
      endTimeUnixNano: this.#readTime(span.endOffset),
      links,
      events,
    };
  }

  #writeSpan(resource: Buffer, scope: Buffer): void {
    const writer = this.#writer;
    const body = this.#body;
    const span = this.#span;
    this.#writeTime(span.startOffset);
    writer.writeHexBytes(body, span.traceIdStart, span.traceIdEnd);
    writer.writeHexBytes(body, span.spanIdStart, span.spanIdEnd);
    writer.writeHexBytes(body, span.parentStart, span.parentEnd);
    writer.writeUtf8Bytes(body, span.traceStateStart, span.traceStateEnd);
    writer.writeUtf8Bytes(body, span.nameStart, span.nameEnd);
    writer.writeString(SPAN_KIND_NAMES[span.kind] ?? '');
    writer.writeBytes(resource);
    writer.writeBytes(scope);
    this.#writeAttributes(this.#spanAttributes, 0, this.#spanAttributes.count);
    this.#writeDuration();
    writer.writeString(STATUS_CODE_NAMES[span.statusCode] ?? '');
    writer.writeUtf8Bytes(body, span.statusMessageStart, span.statusMessageEnd);

    const events = this.#events;
    writer.writeVarUInt(events.count);
    for (let event = 0; event < events.count; event++) this.#writeTime(events.field(event, 0));
    writer.writeVarUInt(events.count);
    for (let event = 0; event < events.count; event++) writer.writeUtf8Bytes(body, events.field(event, 1), events.field(event, 2));
    writer.writeVarUInt(events.count);
    for (let event = 0; event < events.count; event++) {
      this.#writeAttributes(this.#nestedAttributes, events.field(event, 3), events.field(event, 4));
    }

    const links = this.#links;
    writer.writeVarUInt(links.count);
    for (let link = 0; link < links.count; link++) writer.writeHexBytes(body, links.field(link, 0), links.field(link, 1));
    writer.writeVarUInt(links.count);
    for (let link = 0; link < links.count; link++) writer.writeHexBytes(body, links.field(link, 2), links.field(link, 3));
    writer.writeVarUInt(links.count);
    for (let link = 0; link < links.count; link++) writer.writeUtf8Bytes(body, links.field(link, 4), links.field(link, 5));
    writer.writeVarUInt(links.count);
    for (let link = 0; link < links.count; link++) {
      this.#writeAttributes(this.#nestedAttributes, links.field(link, 6), links.field(link, 7));
    }
  }

  /** Writes attributes as `writeAttributeMap` does, copying keys and string values from the body. */
  #writeAttributes(list: RecordList, first: number, count: number): void {
    const writer = this.#writer;
    if (this.#hasRepeatedKey(list, first, count)) {
      writeAttributeMap(writer, this.#decodeAttributes(list, first, count));
      return;
    }
    const body = this.#body;
    writer.writeVarUInt(count);
    for (let record = first; record < first + count; record++) {
      writer.writeUtf8Bytes(body, list.field(record, 0), list.field(record, 1));
      const valueKind = list.field(record, 2);
      if (valueKind === VALUE_STRING) writer.writeUtf8Bytes(body, list.field(record, 3), list.field(record, 4));
      else if (valueKind === VALUE_DECODED) writer.writeString(formatAttributeValue(this.#decodedValues[list.field(record, 3)]!));
      else writer.writeVarUInt(0);
    }
  }

  #hasRepeatedKey(list: RecordList, first: number, count: number): boolean {
    const body = this.#body;
    if (count > PAIRWISE_CHECK_MAX_LENGTH) {
      const keys = new Set<string>();
      for (let record = first; record < first + count; record++) {
        keys.add(body.toString('latin1', list.field(record, 0), list.field(record, 1)));
      }
      return keys.size !== count;
    }
    for (let record = first + 1; record < first + count; record++) {
      for (let earlier = first; earlier < record; earlier++) {
        if (isSameBytes(body, list.field(record, 0), list.field(record, 1), list.field(earlier, 0), list.field(earlier, 1))) {
          return true;
        }
      }
    }
    return false;
  }

  #decodeAttributes(list: RecordList, first: number, count: number): OtlpKeyValue[] {
    const body = this.#body;
    const attributes: OtlpKeyValue[] = [];
    for (let record = first; record < first + count; record++) {
      const key = body.toString('utf8', list.field(record, 0), list.field(record, 1));
      const valueKind = list.field(record, 2);
      const valueStart = list.field(record, 3);
      let value: OtlpAnyValue = { type: 'empty' };
      if (valueKind === VALUE_STRING) value = { type: 'string', value: body.toString('utf8', valueStart, list.field(record, 4)) };
      else if (valueKind === VALUE_DECODED) value = this.#decodedValues[valueStart]!;
      attributes.push({ key, value });
    }
    return attributes;
  }

  /** Writes a time as DateTime64(9): its eight little-endian bytes, which the checks kept below 2^63. */
  #writeTime(offset: number): void {
    if (offset < 0) this.#writer.writeZeros(8);
    else this.#writer.writeBytes(this.#body, offset, offset + 8);
  }

  /** Writes end time minus start time as a UInt64, in two 32-bit words; the checks kept the end at or after the start. */
  #writeDuration(): void {
    const span = this.#span;
    let low = this.#readLowWord(span.endOffset) - this.#readLowWord(span.startOffset);
    let high = this.#readHighWord(span.endOffset) - this.#readHighWord(span.startOffset);
    if (low < 0) {
      low += UINT32_RANGE;
      high -= 1;
    }
    this.#writer.writeUInt32(low);
    this.#writer.writeUInt32(high);
  }

  #readTime(offset: number): bigint {
    return offset < 0 ? 0n : this.#body.readBigUInt64LE(offset);
  }

  #readLowWord(offset: number): number {
    return offset < 0 ? 0 : this.#body.readUInt32LE(offset);
  }

  #readHighWord(offset: number): number {
    return offset < 0 ? 0 : this.#body.readUInt32LE(offset + 4);
  }
}

function isEmptyOrSized(length: number, size: number): boolean {
  return length === 0 || length === size;
}

function isSameBytes(body: Buffer, start: number, end: number, otherStart: number, otherEnd: number): boolean {
  if (end - start !== otherEnd - otherStart) return false;
  for (let index = 0; index < end - start; index++) {
    if (body[start + index] !== body[otherStart + index]) return false;
  }
  return true;
}
