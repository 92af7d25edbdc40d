import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClientBatchInserter, splitRowBinaryRows } from '../../../collector/ingest/index.js';
import { selectStorableSpans, toTraceRows } from '../../../collector/otlp/to-trace-rows.js';
import { encodeTraceRowBinary } from '../../../collector/otlp/trace-row-binary.js';
import type { OtlpKeyValue, OtlpSpan, OtlpTraceRequest } from '../../../collector/otlp/types.js';
import { migrate, openClickHouse } from '../../../store/index.js';

const dataDir = mkdtempSync(join(tmpdir(), 'syncwatch-rowbinary-'));
let client: ClickHouseClient;

/** Tables with the schema of `otel_traces`: one filled through JSONEachRow, one through RowBinary. */
const JSON_TABLE = 'otel_traces';
const ROW_BINARY_TABLE = 'otel_traces_rowbinary';

beforeAll(async () => {
  client = openClickHouse({ kind: 'embedded', dataDir });
  await migrate(client);
  await client.command({ query: `CREATE TABLE ${ROW_BINARY_TABLE} AS ${JSON_TABLE}` });
});

afterAll(async () => {
  await client?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const LONG_VALUE = 'ü'.repeat(200);

const ATTRIBUTES: OtlpKeyValue[] = [
  { key: 'text', value: { type: 'string', value: 'Grüße, 東京 🚚' } },
  { key: 'long', value: { type: 'string', value: LONG_VALUE } },
  { key: 'count', value: { type: 'int', value: -42n } },
  { key: 'ratio', value: { type: 'double', value: 0.1 } },
  { key: 'ok', value: { type: 'bool', value: true } },
  { key: 'raw', value: { type: 'bytes', value: Buffer.from([0, 255, 16]) } },
  { key: 'list', value: { type: 'array', values: [{ type: 'string', value: 'a' }, { type: 'int', value: 1n }] } },
  { key: 'nested', value: { type: 'kvlist', values: [{ key: 'z', value: { type: 'bool', value: false } }] } },
  { key: 'none', value: { type: 'empty' } },
  { key: '', value: { type: 'string', value: '' } },
  { key: 'text', value: { type: 'string', value: 'last value wins' } },
];

function buildSpan(index: number, overrides: Partial<OtlpSpan> = {}): OtlpSpan {
  const spanId = Buffer.alloc(8);
  spanId.writeUInt32BE(index + 1, 4);
  return {
    traceId: Buffer.from('5b8efff798038103d269b633813fc60c', 'hex'),
    spanId,
    traceState: '',
    parentSpanId: new Uint8Array(0),
    name: `span ${index}`,
    kind: index % 6,
    startTimeUnixNano: 1_700_000_000_000_000_001n + BigInt(index),
    endTimeUnixNano: 1_700_000_000_123_456_789n,
    attributes: [],
    events: [],
    links: [],
    status: { code: 0, message: '' },
    ...overrides,
  };
}

function buildRequest(): OtlpTraceRequest {
  const spans = [
    buildSpan(0),
    buildSpan(1, {
      attributes: ATTRIBUTES,
      parentSpanId: Buffer.from('0102030405060708', 'hex'),
      traceState: 'vendor=ä',
      status: { code: 2, message: 'Zeitüberschreitung' },
      events: [
        { timeUnixNano: 1_700_000_000_100_000_000n, name: 'retry', attributes: ATTRIBUTES },
        { timeUnixNano: 0n, name: '', attributes: [] },
      ],
      links: [
        { traceId: Buffer.alloc(16, 0xab), spanId: Buffer.alloc(8, 0xcd), traceState: 'l=1', attributes: ATTRIBUTES },
        { traceId: new Uint8Array(0), spanId: Buffer.alloc(8), traceState: '', attributes: [] },
      ],
    }),
    buildSpan(2, { kind: 9, status: { code: 7, message: '' } }),
    // Rejected for its missing trace id, by both paths.
    buildSpan(3, { traceId: new Uint8Array(0) }),
  ];
  return {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { type: 'string', value: 'odoo' } }, ...ATTRIBUTES] },
        scopeSpans: [
          { scope: { name: 'odoo.http', version: '17.0', attributes: [] }, spans: spans.slice(0, 2), schemaUrl: '' },
          { scope: { name: '', version: '', attributes: [] }, spans: spans.slice(2), schemaUrl: '' },
        ],
        schemaUrl: '',
      },
      {
        resource: { attributes: [] },
        scopeSpans: [{ scope: { name: 's', version: '1', attributes: [] }, spans: [buildSpan(4)], schemaUrl: '' }],
        schemaUrl: '',
      },
    ],
  };
}

/** Selects every row, with the entry counts of its maps, which JSON output hides when a key repeats. */
async function selectRows(table: string): Promise<Record<string, unknown>[]> {
  const counts = [
    'length(ResourceAttributes) AS ResourceAttributeCount',
    'length(SpanAttributes) AS SpanAttributeCount',
    'arrayMap(m -> length(m), `Events.Attributes`) AS EventAttributeCounts',
    'arrayMap(m -> length(m), `Links.Attributes`) AS LinkAttributeCounts',
  ];
  const query = `SELECT *, ${counts.join(', ')} FROM ${table} ORDER BY SpanId`;
  const result = await client.query({ query, format: 'JSONEachRow' });
  return result.json<Record<string, unknown>>();
}

function encodeBody(request: OtlpTraceRequest): { body: Buffer; rowCount: number } {
  const spans = selectStorableSpans(request);
  const rows = encodeTraceRowBinary(spans.request, spans.spanCount);
  if (rows.format !== 'RowBinaryWithNamesAndTypes') throw new Error(`expected RowBinary rows, received ${rows.format}`);
  return { body: Buffer.concat([rows.header, rows.body]), rowCount: rows.rowCount };
}

describe('encodeTraceRowBinary', () => {
  it('stores what the JSON rows store', async () => {
    const request = buildRequest();
    const inserter = createClientBatchInserter(client);
    const jsonRows = toTraceRows(request).rows;
    const jsonBody = Buffer.from(jsonRows.map((row) => JSON.stringify(row)).join('\n'));
    await inserter.insert(JSON_TABLE, { batchId: 'json-1', rowCount: jsonRows.length, body: jsonBody });
    const { body, rowCount } = encodeBody(request);
    expect(rowCount).toBe(4);
    await inserter.insert(ROW_BINARY_TABLE, { batchId: 'rowbinary-1', rowCount, body, format: 'RowBinaryWithNamesAndTypes' });

    const fromJson = await selectRows(JSON_TABLE);
    const fromRowBinary = await selectRows(ROW_BINARY_TABLE);
    expect(fromJson).toHaveLength(4);
    expect(fromRowBinary).toEqual(fromJson);
    const detailed = fromRowBinary.find((row) => row.SpanName === 'span 1');
    expect(detailed?.SpanAttributes).toMatchObject({ text: 'last value wins', long: LONG_VALUE, count: '-42', ok: 'true' });
    expect(detailed?.SpanAttributeCount).toBe(ATTRIBUTES.length - 1);
    expect(detailed?.EventAttributeCounts).toEqual([ATTRIBUTES.length - 1, 0]);
    expect(detailed?.['Links.TraceId']).toEqual(['abababababababababababababababab', '']);
  });

  it('splits a body at row boundaries', async () => {
    const { body } = encodeBody(buildRequest());
    const { header, rows } = splitRowBinaryRows(body);
    expect(rows).toHaveLength(4);
    expect(Buffer.concat([header, ...rows]).equals(body)).toBe(true);

    const inserter = createClientBatchInserter(client);
    const halves = [rows.slice(0, 1), rows.slice(1)];
    for (const [index, half] of halves.entries()) {
      const halfBody = Buffer.concat([header, ...half]);
      await inserter.insert('otel_traces', {
        batchId: `split-${index}`,
        rowCount: half.length,
        body: halfBody,
        format: 'RowBinaryWithNamesAndTypes',
      });
    }
    const result = await client.query({
      query: "SELECT count() AS value FROM otel_traces WHERE SpanName IN ('span 0', 'span 1', 'span 2', 'span 4')",
      format: 'JSONEachRow',
    });
    const [row] = await result.json<{ value: string | number }>();
    expect(Number(row?.value)).toBe(8);
  });

  it('rejects a cut body', () => {
    const { body } = encodeBody(buildRequest());
    expect(() => splitRowBinaryRows(body.subarray(0, body.length - 3))).toThrow(RangeError);
  });
});
