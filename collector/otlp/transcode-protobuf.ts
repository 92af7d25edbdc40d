import type { EncodedRows } from '../ingest/insert-batch.js';
import { RowBinaryWriter } from '../ingest/row-binary.js';
import { formatAttributeValue } from './attribute-values.js';
import { readKeyValue, readList, readScope, WireReader } from './decode-protobuf.js';
import {
  RecordList,
  SpanFields,
  TAG_FIELD_1_BYTES,
  TAG_FIELD_2_BYTES,
  TAG_FIELD_3_BYTES,
  VALUE_DECODED,
  VALUE_STRING,
} from './span-fields.js';
import { describeRejections, findSpanProblem, SPAN_KIND_NAMES, STATUS_CODE_NAMES } from './to-trace-rows.js';
import {
  encodeResource,
  encodeScope,
  PAIRWISE_CHECK_MAX_LENGTH,
  TRACE_ROW_BINARY_HEADER,
  writeAttributeMap,
} from './trace-row-binary.js';
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
 * Where a request contains two errors, the first one met is thrown. This reads
 * all other fields of a `ResourceSpans` before its scopes, and all other
 * fields of a `ScopeSpans` before its spans, wherever they sit in the
 * message. So of two errors of different codes, say an attribute nested too
 * deep in a span and a truncated field after it, it may report the other
 * one than `decodeProtobufTraceRequest`; both are 400s.
 */
export function transcodeProtobufTraces(body: Uint8Array): TranscodedTraces {
  const transcoder = new TraceTranscoder(body);
  transcoder.readRequest();
  return transcoder.finish();
}

const UINT32_RANGE = 2 ** 32;

/** Bytes of the buffer that rows are written into before they are copied out. */
const INITIAL_SCRATCH_BYTES = 1024 * 1024;

/** Largest scratch buffer kept for the next request. A larger one, grown for a large request, is dropped. */
const MAX_KEPT_SCRATCH_BYTES = 8 * 1024 * 1024;

/**
 * The buffer that each request's rows are written into, reused from request
 * to request because a transcoder runs to its end without waiting. Each
 * request's rows leave it as a copy of their size, so no allocation per
 * request is larger than its rows.
 */
let scratch: Buffer = Buffer.allocUnsafe(INITIAL_SCRATCH_BYTES);

/**
 * Reads one request. Each span is read whole first, recording where its
 * fields sit, because a row's columns come in another order than a span's
 * fields may, and a rejected span must leave no bytes behind.
 */
class TraceTranscoder {
  readonly #reader: WireReader;
  readonly #body: Buffer;
  readonly #writer: RowBinaryWriter;
  readonly #fields: SpanFields;
  readonly #reasons = new Map<string, number>();
  #spanCount = 0;
  #totalSpans = 0;

  constructor(body: Uint8Array) {
    this.#reader = new WireReader(body);
    this.#body = this.#reader.buf;
    this.#fields = new SpanFields(this.#reader);
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
    const scopeSpans = this.#readEnvelope(end, (resourceEnd) => {
      attributes = readList(reader, resourceEnd, (itemEnd) => readKeyValue(reader, itemEnd, 0));
    });
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
    const spans = this.#readEnvelope(end, (scopeEnd) => {
      scope = readScope(reader, scopeEnd);
    });
    const scopeBytes = encodeScope(scope?.name ?? '', scope?.version ?? '');
    for (let index = 0; index < spans.length; index += 2) {
      reader.pos = spans[index]!;
      this.#fields.read(spans[index + 1]!);
      this.#totalSpans++;
      const reason = this.#fields.isStorable() ? undefined : findSpanProblem(this.#fields.describe());
      if (reason === undefined) {
        this.#spanCount++;
        this.#writeSpan(resource, scopeBytes);
      } else {
        this.#reasons.set(reason, (this.#reasons.get(reason) ?? 0) + 1);
      }
    }
    reader.pos = end;
  }

  /**
   * Reads a `ResourceSpans` or a `ScopeSpans`, which share their layout.
   * `readFirst` reads field 1, the resource or the scope. Field 2 lists the
   * children, and their start and end offsets are returned in pairs. Field 3,
   * the schema URL, is checked and dropped.
   */
  #readEnvelope(end: number, readFirst: (fieldEnd: number) => void): number[] {
    const reader = this.#reader;
    const children: number[] = [];
    while (reader.pos < end) {
      const tag = reader.uint32(end);
      switch (tag) {
        case TAG_FIELD_1_BYTES:
          readFirst(reader.length(end));
          break;
        case TAG_FIELD_2_BYTES:
          children.push(reader.bytesStart(end), reader.pos);
          break;
        case TAG_FIELD_3_BYTES:
          reader.stringStart(end);
          break;
        default:
          reader.skip(tag, end);
      }
    }
    return children;
  }

  #writeSpan(resource: Buffer, scope: Buffer): void {
    const writer = this.#writer;
    const body = this.#body;
    const span = this.#fields.layout;
    this.#writeTime(span.startOffset);
    writer.writeHexBytes(body, span.traceIdStart, span.traceIdEnd);
    writer.writeHexBytes(body, span.spanIdStart, span.spanIdEnd);
    writer.writeHexBytes(body, span.parentStart, span.parentEnd);
    writer.writeUtf8Bytes(body, span.traceStateStart, span.traceStateEnd);
    writer.writeUtf8Bytes(body, span.nameStart, span.nameEnd);
    writer.writeString(SPAN_KIND_NAMES[span.kind] ?? '');
    writer.writeBytes(resource);
    writer.writeBytes(scope);
    this.#writeAttributes(this.#fields.attributes, 0, this.#fields.attributes.count);
    this.#writeDuration();
    writer.writeString(STATUS_CODE_NAMES[span.statusCode] ?? '');
    writer.writeUtf8Bytes(body, span.statusMessageStart, span.statusMessageEnd);

    const events = this.#fields.events;
    writer.writeVarUInt(events.count);
    for (let event = 0; event < events.count; event++) this.#writeTime(events.field(event, 0));
    writer.writeVarUInt(events.count);
    for (let event = 0; event < events.count; event++) writer.writeUtf8Bytes(body, events.field(event, 1), events.field(event, 2));
    writer.writeVarUInt(events.count);
    for (let event = 0; event < events.count; event++) {
      this.#writeAttributes(this.#fields.nestedAttributes, events.field(event, 3), events.field(event, 4));
    }

    const links = this.#fields.links;
    writer.writeVarUInt(links.count);
    for (let link = 0; link < links.count; link++) writer.writeHexBytes(body, links.field(link, 0), links.field(link, 1));
    writer.writeVarUInt(links.count);
    for (let link = 0; link < links.count; link++) writer.writeHexBytes(body, links.field(link, 2), links.field(link, 3));
    writer.writeVarUInt(links.count);
    for (let link = 0; link < links.count; link++) writer.writeUtf8Bytes(body, links.field(link, 4), links.field(link, 5));
    writer.writeVarUInt(links.count);
    for (let link = 0; link < links.count; link++) {
      this.#writeAttributes(this.#fields.nestedAttributes, links.field(link, 6), links.field(link, 7));
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
      else if (valueKind === VALUE_DECODED) writer.writeString(formatAttributeValue(this.#fields.decodedValues[list.field(record, 3)]!));
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
        const sameKey = body.compare(body, list.field(record, 0), list.field(record, 1), list.field(earlier, 0), list.field(earlier, 1));
        if (sameKey === 0) return true;
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
      else if (valueKind === VALUE_DECODED) value = this.#fields.decodedValues[valueStart]!;
      attributes.push({ key, value });
    }
    return attributes;
  }

  /** Writes a time as DateTime64(9): its eight little-endian bytes, which the checks kept below 2^63. */
  #writeTime(offset: number): void {
    if (offset < 0) this.#writer.writeZeros(8);
    else this.#writer.writeBytes(this.#body, offset, offset + 8);
  }

  /** Writes end time minus start time as a UInt64 in two 32-bit words. The checks kept the end at or after the start. */
  #writeDuration(): void {
    const span = this.#fields.layout;
    let low = this.#fields.readLowWord(span.endOffset) - this.#fields.readLowWord(span.startOffset);
    let high = this.#fields.readHighWord(span.endOffset) - this.#fields.readHighWord(span.startOffset);
    if (low < 0) {
      low += UINT32_RANGE;
      high -= 1;
    }
    this.#writer.writeUInt32(low);
    this.#writer.writeUInt32(high);
  }
}
