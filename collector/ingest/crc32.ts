import zlib from 'node:zlib';

/**
 * Returns the CRC-32 (IEEE polynomial, as zlib and gzip compute it) of
 * `data`. Passing the CRC of earlier bytes as `previous` continues it, so
 * `computeCrc32(b, computeCrc32(a))` equals the CRC of `a` followed by `b`.
 * Node 20.15 and later compute it natively in `zlib.crc32`; older releases
 * use the table implementation below.
 */
export const computeCrc32: (data: Uint8Array, previous?: number) => number =
  typeof zlib.crc32 === 'function' ? (data, previous = 0) => zlib.crc32(data, previous) : computeCrc32WithTable;

/** Reflected form of the IEEE polynomial 0x04C11DB7. */
const CRC32_POLYNOMIAL = 0xedb88320;

let crcTable: Uint32Array | undefined;

/** Computes the CRC-32 of `data` one byte at a time from a 256-entry table. */
export function computeCrc32WithTable(data: Uint8Array, previous = 0): number {
  const table = (crcTable ??= buildCrcTable());
  let crc = (previous ^ 0xffffffff) >>> 0;
  for (const byte of data) {
    crc = (table[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function buildCrcTable(): Uint32Array {
  const table = new Uint32Array(256);
  for (let index = 0; index < 256; index++) {
    let value = index;
    for (let bit = 0; bit < 8; bit++) {
      value = value & 1 ? CRC32_POLYNOMIAL ^ (value >>> 1) : value >>> 1;
    }
    table[index] = value >>> 0;
  }
  return table;
}
