import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { Readable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClientBatchInserter } from '../../../collector/ingest/index.js';
import { encodeTraceRowBinary } from '../../../collector/otlp/trace-row-binary.js';
import type { OtlpSpan, OtlpTraceRequest } from '../../../collector/otlp/types.js';
import { migrate, openClickHouse } from '../../../store/index.js';
import { INSERT_STAGING_DIRECTORY } from '../../../store/chdb-connection.js';

const parentDir = mkdtempSync(join(tmpdir(), 'syncwatch-staging-'));
// ClickHouse's file() reads `{a,b}`, `*` and `?` as glob patterns.
const dataDir = join(parentDir, 'data{a,b}*?');
let client: ClickHouseClient;

beforeAll(async () => {
  mkdirSync(dataDir);
  client = openClickHouse({ kind: 'embedded', dataDir });
  await migrate(client);
});

afterAll(async () => {
  await client?.close();
  rmSync(parentDir, { recursive: true, force: true });
});

function buildRequest(traceId: Buffer, spanCount: number): OtlpTraceRequest {
  const spans: OtlpSpan[] = [];
  for (let index = 0; index < spanCount; index++) {
    const spanId = Buffer.alloc(8);
    spanId.writeUInt32BE(index + 1, 4);
    spans.push({
      traceId,
      spanId,
      traceState: '',
      parentSpanId: new Uint8Array(0),
      name: `span ${index}`,
      kind: 1,
      startTimeUnixNano: 1_700_000_000_000_000_000n,
      endTimeUnixNano: 1_700_000_001_000_000_000n,
      attributes: [],
      events: [],
      links: [],
      status: { code: 0, message: '' },
    });
  }
  const scope = { name: '', version: '', attributes: [] };
  return { resourceSpans: [{ resource: { attributes: [] }, scopeSpans: [{ scope, spans, schemaUrl: '' }], schemaUrl: '' }] };
}

describe('RowBinary staging path', () => {
  it('stores rows under a glob-like data dir', async () => {
    const traceId = Buffer.from('0af7651916cd43dd8448eb211c80319c', 'hex');
    const encoded = encodeTraceRowBinary(buildRequest(traceId, 3), 3);
    if (encoded.format !== 'RowBinaryWithNamesAndTypes') throw new Error(`unexpected format ${encoded.format}`);
    const inserter = createClientBatchInserter(client);

    await inserter.insert('otel_traces', {
      batchId: 'staging-glob-1',
      rowCount: encoded.rowCount,
      body: Buffer.concat([encoded.header, encoded.body]),
      format: 'RowBinaryWithNamesAndTypes',
    });

    const result = await client.query({
      query: `SELECT count() AS value FROM otel_traces WHERE TraceId = '${traceId.toString('hex')}'`,
      format: 'JSONEachRow',
    });
    const rows = await result.json<{ value: string }>();
    expect(Number(rows[0]?.value)).toBe(3);
    expect(readdirSync(join(dataDir, INSERT_STAGING_DIRECTORY))).toEqual([]);
  });

  it('removes a body whose write failed', async () => {
    const encoded = encodeTraceRowBinary(buildRequest(Buffer.alloc(16, 0x5a), 2), 2);
    if (encoded.format !== 'RowBinaryWithNamesAndTypes') throw new Error(`unexpected format ${encoded.format}`);
    const failingBody = new Readable({
      read() {
        this.push(encoded.header);
        this.destroy(new Error('body stream failed'));
      },
    });

    const exec = client.exec({
      query: 'INSERT INTO otel_traces FORMAT RowBinaryWithNamesAndTypes',
      values: failingBody,
    });

    await expect(exec).rejects.toThrow('body stream failed');
    expect(readdirSync(join(dataDir, INSERT_STAGING_DIRECTORY))).toEqual([]);
  });
});
