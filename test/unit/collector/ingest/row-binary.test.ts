import { describe, expect, it } from 'vitest';
import { RowBinaryWriter } from '../../../../collector/ingest/row-binary.js';

/** Encodes a String the slow, obvious way: LEB128 byte length, then UTF-8. */
function encodeStringReference(value: string): Buffer {
  const bytes = Buffer.from(value, 'utf8');
  const length: number[] = [];
  let rest = bytes.length;
  while (rest > 0x7f) {
    length.push((rest & 0x7f) | 0x80);
    rest >>>= 7;
  }
  length.push(rest);
  return Buffer.concat([Buffer.from(length), bytes]);
}

describe('RowBinaryWriter', () => {
  const cases: [string, string][] = [
    ['empty', ''],
    ['short ASCII', 'POST /api/mrp.production/release'],
    ['127 ASCII characters', 'a'.repeat(127)],
    ['128 ASCII characters', 'a'.repeat(128)],
    ['short non-ASCII', 'Grüße'],
    ['non-ASCII past one length byte', 'é'.repeat(43)],
    ['emoji', '🚚 line-2'],
    ['long text', 'x'.repeat(20_000)],
  ];

  for (const [name, value] of cases) {
    it(`writes ${name} strings`, () => {
      const writer = new RowBinaryWriter(16);
      writer.writeString(value);
      expect(writer.toBuffer().equals(encodeStringReference(value))).toBe(true);
    });
  }

  it('writes zero ids as empty', () => {
    const writer = new RowBinaryWriter(16);
    writer.writeHexString(new Uint8Array(8));
    writer.writeHexString(Buffer.from('00ff10', 'hex'));
    expect([...writer.toBuffer()]).toEqual([0, 6, ...Buffer.from('00ff10')]);
  });
});
