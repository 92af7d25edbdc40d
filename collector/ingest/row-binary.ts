/**
 * Writing and reading ClickHouse's `RowBinaryWithNamesAndTypes` format: a
 * header of column count, names and types, then each row as its values in
 * column order. Strings are a LEB128 length and the UTF-8 bytes, Arrays and
 * Maps a LEB128 count and their elements, DateTime64(9) an Int64 of
 * nanoseconds and integers little-endian. LowCardinality(String) is written
 * as a plain String.
 */

/** One column of a RowBinary body: its name and ClickHouse type. */
export interface RowBinaryColumn {
  name: string;
  type: string;
}

const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');

/** Bytes at which a new writer starts; it doubles when full. */
const INITIAL_WRITER_BYTES = 64 * 1024;

/** Maximum byte length that a one-byte LEB128 prefix encodes. */
const ONE_BYTE_LENGTH_MAX = 0x7f;

/** Maximum UTF-8 bytes of one UTF-16 code unit. */
const MAX_UTF8_BYTES_PER_CODE_UNIT = 3;

/** Bytes up to which `writeBytes` copies in a loop instead of calling `set`, estimated to be cheaper for ids and short names. */
const SHORT_COPY_MAX_BYTES = 32;

/** Appends RowBinary values to a Buffer that grows as needed. */
export class RowBinaryWriter {
  #buffer: Buffer;
  #offset = 0;

  /** Starts with a new buffer of `initialBytes`, or writes into `buffer` until it is full. */
  constructor(initialBytes = INITIAL_WRITER_BYTES, buffer?: Buffer) {
    this.#buffer = buffer ?? Buffer.allocUnsafe(initialBytes);
  }

  get length(): number {
    return this.#offset;
  }

  /** The buffer written into: the one given or, once that was full, a larger one. */
  get buffer(): Buffer {
    return this.#buffer;
  }

  /** Writes an unsigned LEB128 integer, the length prefix of Strings, Arrays and Maps. */
  writeVarUInt(value: number): void {
    this.#reserve(10);
    let rest = value;
    while (rest > 0x7f) {
      this.#buffer[this.#offset++] = (rest % 0x80) | 0x80;
      rest = Math.floor(rest / 0x80);
    }
    this.#buffer[this.#offset++] = rest;
  }

  writeString(value: string): void {
    const maxBytes = value.length * MAX_UTF8_BYTES_PER_CODE_UNIT;
    this.#reserve(maxBytes + 10);
    if (value.length <= ONE_BYTE_LENGTH_MAX && this.#writeShortAscii(value)) return;
    if (maxBytes <= ONE_BYTE_LENGTH_MAX) {
      // The length fits in one byte, so write the bytes first and the length in front of them.
      const lengthOffset = this.#offset++;
      const written = this.#buffer.write(value, this.#offset, 'utf8');
      this.#buffer[lengthOffset] = written;
      this.#offset += written;
      return;
    }
    this.writeVarUInt(Buffer.byteLength(value, 'utf8'));
    this.#offset += this.#buffer.write(value, this.#offset, 'utf8');
  }

  /** Writes `bytes` as a String of lowercase hex digits, or as '' when every byte is zero. */
  writeHexString(bytes: Uint8Array): void {
    this.writeHexBytes(bytes, 0, bytes.length);
  }

  /** Writes `source[start..end)`, bytes already valid UTF-8, as a String. */
  writeUtf8Bytes(source: Uint8Array, start: number, end: number): void {
    this.writeVarUInt(end - start);
    this.writeBytes(source, start, end);
  }

  /** Writes `source[start..end)` as a String of lowercase hex digits, or as '' when every byte is zero. */
  writeHexBytes(source: Uint8Array, start: number, end: number): void {
    if (isAllZero(source, start, end)) {
      this.writeVarUInt(0);
      return;
    }
    this.writeVarUInt((end - start) * 2);
    this.#reserve((end - start) * 2);
    const buffer = this.#buffer;
    for (let index = start; index < end; index++) {
      const byte = source[index]!;
      buffer[this.#offset++] = HEX_DIGITS[byte >> 4]!;
      buffer[this.#offset++] = HEX_DIGITS[byte & 0x0f]!;
    }
  }

  writeInt64(value: bigint): void {
    this.#reserve(8);
    this.#offset = this.#buffer.writeBigInt64LE(value, this.#offset);
  }

  writeUInt64(value: bigint): void {
    this.#reserve(8);
    this.#offset = this.#buffer.writeBigUInt64LE(value, this.#offset);
  }

  /** Appends bytes encoded before, such as a Map written once and shared by many rows, or the part from `start` to `end`. */
  writeBytes(bytes: Uint8Array, start = 0, end = bytes.length): void {
    const length = end - start;
    this.#reserve(length);
    if (length <= SHORT_COPY_MAX_BYTES) {
      const buffer = this.#buffer;
      for (let index = 0; index < length; index++) buffer[this.#offset + index] = bytes[start + index]!;
    } else {
      this.#buffer.set(start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end), this.#offset);
    }
    this.#offset += length;
  }

  /** Writes an unsigned 32-bit integer, little-endian. */
  writeUInt32(value: number): void {
    this.#reserve(4);
    this.#offset = this.#buffer.writeUInt32LE(value, this.#offset);
  }

  /** Writes `count` zero bytes. */
  writeZeros(count: number): void {
    this.#reserve(count);
    this.#buffer.fill(0, this.#offset, this.#offset + count);
    this.#offset += count;
  }

  /** Returns a copy of the bytes written, sized to fit. */
  toBuffer(): Buffer {
    return Buffer.from(this.#buffer.subarray(0, this.#offset));
  }

  /**
   * Writes a string of at most 127 ASCII characters with its one-byte length
   * and returns true. Returns false, with the length written unchanged, when
   * a character is outside ASCII. Short strings dominate trace rows, and copying them here
   * costs less than a call to `Buffer.write`.
   */
  #writeShortAscii(value: string): boolean {
    const buffer = this.#buffer;
    const start = this.#offset + 1;
    for (let index = 0; index < value.length; index++) {
      const code = value.charCodeAt(index);
      if (code >= 0x80) return false;
      buffer[start + index] = code;
    }
    buffer[this.#offset] = value.length;
    this.#offset = start + value.length;
    return true;
  }

  #reserve(bytes: number): void {
    if (this.#offset + bytes <= this.#buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.#buffer.length * 2, this.#offset + bytes));
    this.#buffer.copy(grown, 0, 0, this.#offset);
    this.#buffer = grown;
  }
}

/** Returns true when every byte from `start` to `end` is zero, as in an empty or unset OTLP id. */
export function isAllZero(bytes: Uint8Array, start = 0, end = bytes.length): boolean {
  for (let index = start; index < end; index++) {
    if (bytes[index] !== 0) return false;
  }
  return true;
}

/** Encodes the header of a `RowBinaryWithNamesAndTypes` body. */
export function encodeRowBinaryHeader(columns: readonly RowBinaryColumn[]): Buffer {
  const writer = new RowBinaryWriter(1024);
  writer.writeVarUInt(columns.length);
  for (const column of columns) writer.writeString(column.name);
  for (const column of columns) writer.writeString(column.type);
  return writer.toBuffer();
}

/** A `RowBinaryWithNamesAndTypes` body cut at its row boundaries. */
export interface RowBinaryRows {
  header: Buffer;
  /** Each row's bytes, views into the body. */
  rows: Buffer[];
}

/**
 * Cuts a `RowBinaryWithNamesAndTypes` body into its header and rows. Throws
 * a RangeError when a column type is outside String, LowCardinality(String),
 * Int8 to Int64, UInt8 to UInt64, DateTime64, Array and Map, or when the
 * bytes end inside a row.
 */
export function splitRowBinaryRows(body: Buffer): RowBinaryRows {
  const reader = new RowBinaryReader(body);
  const columnCount = reader.readVarUInt();
  for (let index = 0; index < columnCount; index++) reader.readString();
  const skippers: Skipper[] = [];
  for (let index = 0; index < columnCount; index++) skippers.push(parseType(reader.readString()));
  const header = body.subarray(0, reader.offset);

  const rows: Buffer[] = [];
  while (reader.offset < body.length) {
    const start = reader.offset;
    for (const skip of skippers) skip(reader);
    rows.push(body.subarray(start, reader.offset));
  }
  return { header, rows };
}

type Skipper = (reader: RowBinaryReader) => void;

const FIXED_WIDTH_TYPES: Readonly<Record<string, number>> = {
  Int8: 1,
  UInt8: 1,
  Int16: 2,
  UInt16: 2,
  Int32: 4,
  UInt32: 4,
  Int64: 8,
  UInt64: 8,
};

/** Returns a function that skips one value of `type`. */
function parseType(type: string): Skipper {
  const trimmed = type.trim();
  if (trimmed === 'String' || trimmed === 'LowCardinality(String)') return (reader) => reader.skip(reader.readVarUInt());
  const width = FIXED_WIDTH_TYPES[trimmed] ?? (trimmed.startsWith('DateTime64(') ? 8 : undefined);
  if (width !== undefined) return (reader) => reader.skip(width);

  const array = /^Array\((.*)\)$/.exec(trimmed);
  if (array) {
    const element = parseType(array[1]!);
    return (reader) => {
      const count = reader.readVarUInt();
      for (let index = 0; index < count; index++) element(reader);
    };
  }
  const map = /^Map\((.*)\)$/.exec(trimmed);
  if (map) {
    const [keyType, valueType] = splitTypeArguments(map[1]!);
    const key = parseType(keyType);
    const value = parseType(valueType);
    return (reader) => {
      const count = reader.readVarUInt();
      for (let index = 0; index < count; index++) {
        key(reader);
        value(reader);
      }
    };
  }
  throw new RangeError(`unsupported RowBinary column type "${type}"`);
}

/** Splits `K, V` at the comma outside parentheses. */
function splitTypeArguments(text: string): [string, string] {
  let depth = 0;
  for (let index = 0; index < text.length; index++) {
    const character = text[index];
    if (character === '(') depth++;
    else if (character === ')') depth--;
    else if (character === ',' && depth === 0) return [text.slice(0, index), text.slice(index + 1)];
  }
  throw new RangeError(`invalid Map type arguments "${text}"`);
}

class RowBinaryReader {
  readonly #data: Buffer;
  offset = 0;

  constructor(data: Buffer) {
    this.#data = data;
  }

  readVarUInt(): number {
    let value = 0;
    let factor = 1;
    for (;;) {
      if (this.offset >= this.#data.length) throw new RangeError(`RowBinary body ends inside a length at byte ${this.offset}`);
      const byte = this.#data[this.offset++]!;
      value += (byte & 0x7f) * factor;
      if (byte < 0x80) return value;
      factor *= 0x80;
    }
  }

  readString(): string {
    const length = this.readVarUInt();
    const start = this.offset;
    this.skip(length);
    return this.#data.toString('utf8', start, this.offset);
  }

  skip(bytes: number): void {
    if (this.offset + bytes > this.#data.length) {
      throw new RangeError(`RowBinary body ends inside a value at byte ${this.offset}`);
    }
    this.offset += bytes;
  }
}
