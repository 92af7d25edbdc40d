import { Readable } from 'node:stream';
import { createGzip, gzipSync } from 'node:zlib';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { CollectorError } from '../../../../collector/errors.js';
import {
  parseContentEncoding,
  parseOtlpContentType,
  readRequestBody,
} from '../../../../collector/otlp/read-body.js';

async function captureError(promise: Promise<unknown>): Promise<CollectorError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof CollectorError) return error;
    throw error;
  }
  throw new Error('expected a CollectorError');
}

/** Gzips `totalBytes` zero bytes without holding them in memory. */
async function gzipZeros(totalBytes: number): Promise<Buffer> {
  const chunk = Buffer.alloc(1024 * 1024);
  async function* zeros() {
    for (let sent = 0; sent < totalBytes; sent += chunk.length) yield chunk;
  }
  const parts: Buffer[] = [];
  const gzip = createGzip();
  gzip.on('data', (part: Buffer) => parts.push(part));
  await pipeline(Readable.from(zeros()), gzip);
  return Buffer.concat(parts);
}

describe('parseOtlpContentType', () => {
  it.each([
    ['application/x-protobuf', 'protobuf'],
    ['application/json', 'json'],
    ['Application/JSON; charset=utf-8', 'json'],
    ['text/plain', undefined],
    [undefined, undefined],
  ])('maps %s', (header, expected) => {
    expect(parseOtlpContentType(header)).toBe(expected);
  });
});

describe('parseContentEncoding', () => {
  it.each([
    [undefined, 'identity'],
    ['', 'identity'],
    ['identity', 'identity'],
    ['GZIP', 'gzip'],
    ['x-gzip', 'gzip'],
    ['br', undefined],
    ['deflate', undefined],
    ['gzip, gzip', undefined],
  ])('maps %s', (header, expected) => {
    expect(parseContentEncoding(header)).toBe(expected);
  });
});

describe('readRequestBody', () => {
  it('reads a plain body', async () => {
    const body = await readRequestBody(Readable.from([Buffer.from('ab'), Buffer.from('c')]), {
      coding: 'identity',
      maxBodyBytes: 3,
    });
    expect(body.toString()).toBe('abc');
  });

  it('inflates a gzip body', async () => {
    const body = await readRequestBody(Readable.from([gzipSync('{"resourceSpans":[]}')]), {
      coding: 'gzip',
      maxBodyBytes: 100,
    });
    expect(body.toString()).toBe('{"resourceSpans":[]}');
  });

  it('rejects a body over the limit', async () => {
    const error = await captureError(
      readRequestBody(Readable.from([Buffer.alloc(3), Buffer.alloc(3)]), { coding: 'identity', maxBodyBytes: 5 }),
    );
    expect(error.code).toBe('COLLECTOR_ERR_BODY_TOO_LARGE');
    expect(error.httpStatus).toBe(413);
  });

  it('rejects a large Content-Length unread', async () => {
    const stream = Readable.from([Buffer.alloc(1)]);
    const error = await captureError(
      readRequestBody(stream, { coding: 'identity', maxBodyBytes: 5, contentLength: 6 }),
    );
    expect(error.code).toBe('COLLECTOR_ERR_BODY_TOO_LARGE');
    expect(stream.readableEnded).toBe(false);
  });

  it('stops inflating a gzip bomb', async () => {
    const bomb = await gzipZeros(1024 * 1024 * 1024);
    const before = process.memoryUsage().arrayBuffers;
    const error = await captureError(
      readRequestBody(Readable.from([bomb]), { coding: 'gzip', maxBodyBytes: 8 * 1024 * 1024 }),
    );
    const grownBytes = process.memoryUsage().arrayBuffers - before;

    expect(error.code).toBe('COLLECTOR_ERR_DECOMPRESSED_BODY_TOO_LARGE');
    expect(error.httpStatus).toBe(413);
    // A full inflate would take 1 GiB, while the limit plus zlib's chunks is far less.
    expect(grownBytes).toBeLessThan(64 * 1024 * 1024);
  });

  it('rejects a corrupt gzip stream', async () => {
    const error = await captureError(
      readRequestBody(Readable.from([Buffer.from('not gzip at all')]), { coding: 'gzip', maxBodyBytes: 100 }),
    );
    expect(error.code).toBe('COLLECTOR_ERR_INVALID_GZIP');
    expect(error.httpStatus).toBe(400);
  });

  it('rejects a truncated gzip stream', async () => {
    const compressed = gzipSync(Buffer.alloc(1000, 0x61));
    const error = await captureError(
      readRequestBody(Readable.from([compressed.subarray(0, compressed.length - 10)]), {
        coding: 'gzip',
        maxBodyBytes: 10_000,
      }),
    );
    expect(error.code).toBe('COLLECTOR_ERR_INVALID_GZIP');
  });
});
