import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { gunzip, type InputType, type ZlibOptions } from 'node:zlib';
import { createCollectorError } from '../errors.js';
import type { OtlpEncoding } from './responses.js';

const gunzipAsync = promisify<InputType, ZlibOptions, Buffer>(gunzip);

/** Content codings the receiver decodes. */
export type ContentCoding = 'gzip' | 'identity';

/** `Accept-Encoding` sent with a 415 for an unsupported coding (RFC 7694). */
export const ACCEPTED_CONTENT_CODINGS = 'gzip, identity';

/** Returns the payload encoding for a `Content-Type`, or undefined when unsupported. */
export function parseOtlpContentType(header: string | undefined): OtlpEncoding | undefined {
  const mediaType = (header ?? '').split(';')[0]?.trim().toLowerCase();
  if (mediaType === 'application/x-protobuf') return 'protobuf';
  if (mediaType === 'application/json') return 'json';
  return undefined;
}

/**
 * Returns the coding for a `Content-Encoding`, or undefined when unsupported.
 * A missing or empty header means identity; a list of several codings is
 * not supported.
 */
export function parseContentEncoding(header: string | undefined): ContentCoding | undefined {
  const coding = (header ?? '').trim().toLowerCase();
  if (coding === '' || coding === 'identity') return 'identity';
  if (coding === 'gzip' || coding === 'x-gzip') return 'gzip';
  return undefined;
}

export interface ReadBodyOptions {
  coding: ContentCoding;
  /** Limit on the body both as received and after decompression, in bytes. */
  maxBodyBytes: number;
  /** The request's `Content-Length`, checked before reading when present. */
  contentLength?: number;
}

/**
 * Reads a request body into memory, decompressing gzip. Throws
 * `COLLECTOR_ERR_BODY_TOO_LARGE` as soon as the received bytes pass the
 * limit, `COLLECTOR_ERR_DECOMPRESSED_BODY_TOO_LARGE` when inflating would
 * pass it (zlib stops there, so a gzip bomb never inflates in full) and
 * `COLLECTOR_ERR_INVALID_GZIP` for a corrupt or truncated gzip stream.
 */
export async function readRequestBody(stream: Readable, options: ReadBodyOptions): Promise<Buffer> {
  const { maxBodyBytes } = options;
  if (options.contentLength !== undefined && options.contentLength > maxBodyBytes) {
    throw createCollectorError('bodyTooLarge', { maxBodyBytes });
  }

  const raw = await readLimited(stream, maxBodyBytes);
  if (options.coding === 'identity') return raw;
  return inflateLimited(raw, maxBodyBytes);
}

async function readLimited(stream: Readable, maxBodyBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let received = 0;
  for await (const chunk of stream) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    received += buffer.length;
    if (received > maxBodyBytes) {
      throw createCollectorError('bodyTooLarge', { maxBodyBytes });
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks, received);
}

async function inflateLimited(compressed: Buffer, maxBodyBytes: number): Promise<Buffer> {
  try {
    return await gunzipAsync(compressed, { maxOutputLength: maxBodyBytes });
  } catch (error) {
    if (isNodeError(error) && error.code === 'ERR_BUFFER_TOO_LARGE') {
      throw createCollectorError('decompressedBodyTooLarge', { maxBodyBytes }, { cause: error });
    }
    const reason = error instanceof Error ? error.message : String(error);
    throw createCollectorError('invalidGzip', { reason }, { cause: error, field: '' });
  }
}

function isNodeError(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && 'code' in error;
}
