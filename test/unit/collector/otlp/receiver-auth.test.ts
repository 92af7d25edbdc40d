import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { createIngestAuthenticator } from '../../../../collector/otlp/ingest-auth.js';
import { registerOtlpReceiver } from '../../../../collector/otlp/receiver.js';
import { mapSpansToRows, type OtelTraceRow } from '../../../../collector/otlp/to-trace-rows.js';
import { createMetricsRegistry, type MetricsRegistry } from '../../../../server/metrics.js';

const INGEST_TOKEN = 'mes-ingest-token-0123456789';
const OTHER_TOKEN = 'wms-ingest-token-9876543210';

const VALID_BODY = JSON.stringify({
  resourceSpans: [
    {
      scopeSpans: [
        {
          spans: [
            {
              traceId: '5b8efff798038103d269b633813fc60c',
              spanId: '0102030405060708',
              name: 'release production order',
              startTimeUnixNano: '1700000000000000000',
              endTimeUnixNano: '1700000000000000010',
            },
            { traceId: '5b8efff798038103d269b633813fc60c', spanId: '00', name: 'bad id' },
          ],
        },
      ],
    },
  ],
});

let app: FastifyInstance | undefined;

afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function startApp(tokens: { name: string; token: string }[], metrics?: MetricsRegistry) {
  const rows: OtelTraceRow[] = [];
  app = Fastify();
  await registerOtlpReceiver(app, {
    writer: {
      async write(spans) {
        rows.push(...mapSpansToRows(spans.request));
      },
    },
    tokens,
    metrics,
  });
  return { server: app, rows };
}

function postTraces(server: FastifyInstance, authorization?: string) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (authorization !== undefined) headers.authorization = authorization;
  return server.inject({ method: 'POST', url: '/v1/traces', headers, payload: VALID_BODY });
}

describe('createIngestAuthenticator', () => {
  it('returns the matching token name', () => {
    const authenticate = createIngestAuthenticator([
      { name: 'mes', token: INGEST_TOKEN },
      { name: 'wms', token: OTHER_TOKEN },
    ]);

    expect(authenticate(`Bearer ${OTHER_TOKEN}`)).toBe('wms');
    expect(authenticate(`bearer  ${INGEST_TOKEN} `)).toBe('mes');
  });

  it('allows everything without tokens', () => {
    const authenticate = createIngestAuthenticator([]);

    expect(authenticate(undefined)).toBeUndefined();
    expect(authenticate('Basic dXNlcjpwYXNz')).toBeUndefined();
  });

  it.each([
    ['missing header', undefined, 'no Authorization header'],
    ['empty header', '', 'no Authorization header'],
    ['basic scheme', 'Basic dXNlcjpwYXNz', 'not a Bearer token'],
    ['bearer without token', 'Bearer ', 'not a Bearer token'],
    ['unknown token', 'Bearer not-a-configured-token', 'not an ingest token'],
    ['token prefix', `Bearer ${INGEST_TOKEN.slice(0, -1)}`, 'not an ingest token'],
  ])('rejects %s', (_case, header, problem) => {
    const authenticate = createIngestAuthenticator([{ name: 'mes', token: INGEST_TOKEN }]);

    expect(() => authenticate(header)).toThrow(expect.objectContaining({ code: 'COLLECTOR_ERR_UNAUTHENTICATED' }));
    expect(() => authenticate(header)).toThrow(problem);
  });
});

describe('registerOtlpReceiver with tokens', () => {
  it('stores spans for a known token', async () => {
    const { server, rows } = await startApp([{ name: 'mes', token: INGEST_TOKEN }]);

    const response = await postTraces(server, `Bearer ${INGEST_TOKEN}`);

    expect(response.statusCode).toBe(200);
    expect(rows.map((row) => row.SpanId)).toEqual(['0102030405060708']);
  });

  it('rejects a missing token with 401', async () => {
    const { server, rows } = await startApp([{ name: 'mes', token: INGEST_TOKEN }]);

    const response = await postTraces(server);

    expect(response.statusCode).toBe(401);
    expect(response.headers['www-authenticate']).toBe('Bearer realm="otlp"');
    expect(response.headers['content-type']).toBe('application/json');
    const status = response.json() as { code: number; details: { reason?: string }[] };
    expect(status.code).toBe(16);
    expect(status.details[0]?.reason).toBe('COLLECTOR_ERR_UNAUTHENTICATED');
    expect(rows).toEqual([]);
  });

  it('rejects an unknown token with 401', async () => {
    const { server, rows } = await startApp([{ name: 'mes', token: INGEST_TOKEN }]);

    const response = await postTraces(server, 'Bearer sql-token-that-is-not-for-ingest');

    expect(response.statusCode).toBe(401);
    expect(rows).toEqual([]);
  });

  it('counts requests and rows', async () => {
    const metrics = createMetricsRegistry({ includeProcessMetrics: false });
    const { server } = await startApp([{ name: 'mes', token: INGEST_TOKEN }], metrics);

    await postTraces(server, `Bearer ${INGEST_TOKEN}`);
    await postTraces(server, 'Bearer wrong-token-0123456789');

    const text = await metrics.serialize();
    expect(text).toContain('syncwatch_otlp_requests_total{status_code="200",error_code=""} 1');
    expect(text).toContain('syncwatch_otlp_requests_total{status_code="401",error_code="COLLECTOR_ERR_UNAUTHENTICATED"} 1');
    expect(text).toContain('syncwatch_rows_accepted_total{table="otel_traces"} 1');
    expect(text).toContain('syncwatch_rows_rejected_total{table="otel_traces",reason="COLLECTOR_ERR_INVALID_SPAN"} 1');
  });
});
