import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient } from '@clickhouse/client';
import { afterEach, describe, expect, it } from 'vitest';
import { buildInsertStatement, createClientBatchInserter } from '../../../../collector/ingest/insert-batch.js';

interface ReceivedRequest {
  query: string;
  body: Buffer;
}

let server: http.Server | undefined;

afterEach(async () => {
  const running = server;
  server = undefined;
  if (running) await new Promise((resolve) => running.close(resolve));
});

/** Starts an HTTP server on loopback that records each request and answers like ClickHouse after an INSERT. */
async function startRecordingServer(): Promise<{ url: string; requests: ReceivedRequest[] }> {
  const requests: ReceivedRequest[] = [];
  server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const query = new URL(request.url ?? '/', 'http://localhost').searchParams.get('query') ?? '';
      requests.push({ query, body: Buffer.concat(chunks) });
      response.writeHead(200, { 'X-ClickHouse-Summary': '{}' });
      response.end();
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const { port } = server!.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, requests };
}

describe('createClientBatchInserter', () => {
  it('sends binary bodies over HTTP unchanged', async () => {
    const { url, requests } = await startRecordingServer();
    const client = createClient({ url });
    const body = Buffer.from(Array.from({ length: 256 }, (_, index) => index));
    await createClientBatchInserter(client).insert('otel_traces', {
      batchId: 'http-1',
      rowCount: 1,
      body,
      format: 'RowBinaryWithNamesAndTypes',
    });
    await client.close();

    expect(requests).toHaveLength(1);
    expect(requests[0]!.query).toBe(buildInsertStatement('otel_traces', 'http-1', 'RowBinaryWithNamesAndTypes'));
    expect(requests[0]!.query).toMatch(/ FORMAT RowBinaryWithNamesAndTypes$/);
    expect(requests[0]!.body.equals(body)).toBe(true);
  });

  it('defaults to JSONEachRow', () => {
    expect(buildInsertStatement('otel_traces', 'b-1')).toMatch(/ FORMAT JSONEachRow$/);
  });
});
