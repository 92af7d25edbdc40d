import { isAllZero } from '../ingest/row-binary.js';
import { readAnyValue, WIRE_FIXED64, WIRE_LENGTH_DELIMITED, WIRE_VARINT, type WireReader } from './decode-protobuf.js';
import type { SpanIdsAndTimes } from './to-trace-rows.js';
import type { OtlpAnyValue } from './types.js';

/** Tags of the length-delimited fields 1 to 4, which most messages of a request use. */
export const TAG_FIELD_1_BYTES = (1 << 3) | WIRE_LENGTH_DELIMITED;
export const TAG_FIELD_2_BYTES = (2 << 3) | WIRE_LENGTH_DELIMITED;
export const TAG_FIELD_3_BYTES = (3 << 3) | WIRE_LENGTH_DELIMITED;
export const TAG_FIELD_4_BYTES = (4 << 3) | WIRE_LENGTH_DELIMITED;

/** Tags of the `AnyValue` members other than `string_value`, as `readAnyValue` reads them. */
const OTHER_ANY_VALUE_TAGS: ReadonlySet<number> = new Set([
  (2 << 3) | WIRE_VARINT,
  (3 << 3) | WIRE_VARINT,
  (4 << 3) | WIRE_FIXED64,
  (5 << 3) | WIRE_LENGTH_DELIMITED,
  (6 << 3) | WIRE_LENGTH_DELIMITED,
  (7 << 3) | WIRE_LENGTH_DELIMITED,
]);

/** Kinds of attribute value: absent, string bytes in the body, or a decoded value. */
export const VALUE_EMPTY = 0;
export const VALUE_STRING = 1;
export const VALUE_DECODED = 2;

/** Fields of an attribute record: its key's bytes, the value kind and the value's bytes or decoded index. */
const ATTRIBUTE_STRIDE = 5;
/** Fields of an event record: the offset of its time (-1 when absent), its name's bytes, its first attribute and their count. */
const EVENT_STRIDE = 5;
/** Fields of a link record: the bytes of its trace id, span id and trace state, its first attribute and their count. */
const LINK_STRIDE = 8;

/** Largest high 32-bit word of an instant that DateTime64(9) stores, up to 2^63 - 1 ns. */
const MAX_DATETIME64_HIGH_WORD = 0x7fffffff;

/** Records of a fixed number of fields in one array, reused from span to span. */
export class RecordList {
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

/** Offsets of the fields of the span being read in the body. Absent bytes have equal start and end. */
export interface SpanLayout {
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
 * Reads the fields of one span at a time and records where each sits in the
 * body, so that a row can be written from them in column order. Reading a
 * span checks every string and attribute in it, as the decoder does.
 */
export class SpanFields {
  readonly #reader: WireReader;
  readonly #body: Buffer;
  layout = createSpanLayout();
  readonly attributes = new RecordList(ATTRIBUTE_STRIDE);
  /** Attributes of the span's events and links. Those of one event or link are adjacent. */
  readonly nestedAttributes = new RecordList(ATTRIBUTE_STRIDE);
  readonly events = new RecordList(EVENT_STRIDE);
  readonly links = new RecordList(LINK_STRIDE);
  /** Attribute values other than strings, decoded, for the span being read. */
  decodedValues: OtlpAnyValue[] = [];

  constructor(reader: WireReader) {
    this.#reader = reader;
    this.#body = reader.buf;
  }

  /** Reads a span's fields as `readSpan` does, checking every string and attribute, and records where they sit. */
  read(end: number): void {
    const reader = this.#reader;
    const span = createSpanLayout();
    this.layout = span;
    this.attributes.count = 0;
    this.nestedAttributes.count = 0;
    this.events.count = 0;
    this.links.count = 0;
    this.decodedValues = [];
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
          this.#readKeyValue(this.attributes, reader.length(end));
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
    const span = this.layout;
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
    const attributes = this.nestedAttributes;
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
    const events = this.events;
    const at = events.add();
    events.values[at] = timeOffset;
    events.values[at + 1] = nameStart;
    events.values[at + 2] = nameEnd;
    events.values[at + 3] = firstAttribute;
    events.values[at + 4] = attributes.count - firstAttribute;
  }

  #readLink(end: number): void {
    const reader = this.#reader;
    const attributes = this.nestedAttributes;
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
    const links = this.links;
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
   * that contains only a string stays in the body. Any other member makes
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
            valueStart = this.decodedValues.push(readAnyValue(reader, valueStop, 1)) - 1;
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

  /** Runs the checks of `findSpanProblem` on the recorded fields, without building a span. */
  isStorable(): boolean {
    const body = this.#body;
    const span = this.layout;
    if (span.traceIdEnd - span.traceIdStart !== 16 || isAllZero(body, span.traceIdStart, span.traceIdEnd)) return false;
    if (span.spanIdEnd - span.spanIdStart !== 8 || isAllZero(body, span.spanIdStart, span.spanIdEnd)) return false;
    if (!isEmptyOrSized(span.parentEnd - span.parentStart, 8)) return false;
    const links = this.links;
    for (let link = 0; link < links.count; link++) {
      if (!isEmptyOrSized(links.field(link, 1) - links.field(link, 0), 16)) return false;
      if (!isEmptyOrSized(links.field(link, 3) - links.field(link, 2), 8)) return false;
    }
    const startHigh = this.readHighWord(span.startOffset);
    const endHigh = this.readHighWord(span.endOffset);
    if (endHigh < startHigh || (endHigh === startHigh && this.readLowWord(span.endOffset) < this.readLowWord(span.startOffset))) {
      return false;
    }
    if (endHigh > MAX_DATETIME64_HIGH_WORD) return false;
    const events = this.events;
    for (let event = 0; event < events.count; event++) {
      if (this.readHighWord(events.field(event, 0)) > MAX_DATETIME64_HIGH_WORD) return false;
    }
    return true;
  }

  /** Returns the span as `findSpanProblem` takes it, for the reason it was rejected. */
  describe(): SpanIdsAndTimes {
    const body = this.#body;
    const span = this.layout;
    const links = [];
    for (let link = 0; link < this.links.count; link++) {
      links.push({
        traceId: body.subarray(this.links.field(link, 0), this.links.field(link, 1)),
        spanId: body.subarray(this.links.field(link, 2), this.links.field(link, 3)),
      });
    }
    const events = [];
    for (let event = 0; event < this.events.count; event++) {
      events.push({ timeUnixNano: this.readTime(this.events.field(event, 0)) });
    }
    return {
      traceId: body.subarray(span.traceIdStart, span.traceIdEnd),
      spanId: body.subarray(span.spanIdStart, span.spanIdEnd),
      parentSpanId: body.subarray(span.parentStart, span.parentEnd),
      startTimeUnixNano: this.readTime(span.startOffset),
      endTimeUnixNano: this.readTime(span.endOffset),
      links,
      events,
    };
  }

  readTime(offset: number): bigint {
    return offset < 0 ? 0n : this.#body.readBigUInt64LE(offset);
  }

  readLowWord(offset: number): number {
    return offset < 0 ? 0 : this.#body.readUInt32LE(offset);
  }

  readHighWord(offset: number): number {
    return offset < 0 ? 0 : this.#body.readUInt32LE(offset + 4);
  }
}

function isEmptyOrSized(length: number, size: number): boolean {
  return length === 0 || length === size;
}
