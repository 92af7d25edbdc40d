import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createHttpProbeSource,
  SOURCE_ERROR_CODES,
  type HttpProbeSourceConfigInput,
  type LagSample,
} from '../../../collector/sources/index.js';

const DAY_MS = 86_400_000;
const certificateDir = mkdtempSync(join(tmpdir(), 'sw-http-probe-'));
const servers: FastifyInstance[] = [];

interface TestCertificate {
  key: string;
  cert: string;
}

/** Formats a time as the YYYYMMDDHHMMSSZ form that `openssl ca` takes. */
function formatOpensslTime(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:T]/g, '').replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Creates a self-signed certificate for 127.0.0.1 and localhost valid from
 * `notBeforeMs` to `notAfterMs`, with `openssl ca -selfsign`, which, unlike
 * `openssl req`, accepts dates in the past.
 */
function createCertificate(label: string, notBeforeMs: number, notAfterMs: number): TestCertificate {
  const dir = join(certificateDir, label);
  mkdirSync(join(dir, 'db'), { recursive: true });
  writeFileSync(join(dir, 'db', 'index.txt'), '');
  writeFileSync(join(dir, 'db', 'serial'), '01\n');
  writeFileSync(
    join(dir, 'ca.cnf'),
    [
      '[ca]',
      'default_ca = local',
      '[local]',
      `database = ${join(dir, 'db', 'index.txt')}`,
      `new_certs_dir = ${join(dir, 'db')}`,
      `serial = ${join(dir, 'db', 'serial')}`,
      'default_md = sha256',
      'policy = any',
      'x509_extensions = extensions',
      '[any]',
      'commonName = supplied',
      '[extensions]',
      'subjectAltName = IP:127.0.0.1,DNS:localhost',
      'basicConstraints = critical,CA:TRUE',
      '',
    ].join('\n'),
  );
  const key = join(dir, 'key.pem');
  const request = join(dir, 'request.csr');
  const cert = join(dir, 'cert.pem');
  execFileSync('openssl', [
    'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', request, '-subj', `/CN=syncwatch-${label}`,
  ], { stdio: 'pipe' });
  execFileSync('openssl', [
    'ca', '-batch', '-config', join(dir, 'ca.cnf'), '-selfsign', '-keyfile', key, '-in', request, '-out', cert,
    '-startdate', formatOpensslTime(notBeforeMs), '-enddate', formatOpensslTime(notAfterMs),
  ], { stdio: 'pipe' });
  return { key: readFileSync(key, 'utf8'), cert: readFileSync(cert, 'utf8') };
}

/** Requests the test servers received, by path. */
const received: Array<{ method: string; path: string; body: unknown; header: string | undefined }> = [];

async function startServer(certificate?: TestCertificate): Promise<string> {
  // The https instance differs from the http one in its server type only, which the routes here do not use.
  const server = (certificate === undefined ? Fastify() : Fastify({ https: certificate })) as FastifyInstance;
  server.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => done(null, body));
  server.all('/*', async (request, reply) => {
    received.push({
      method: request.method,
      path: request.url,
      body: request.body,
      header: request.headers['x-partner-key'] as string | undefined,
    });
    if (request.url.startsWith('/status/')) return reply.code(Number(request.url.slice('/status/'.length))).send('');
    if (request.url === '/slow') await new Promise((resolve) => setTimeout(resolve, 1_500));
    return reply.code(request.method === 'HEAD' ? 204 : 200).send('{"ok":true}');
  });
  servers.push(server);
  return server.listen({ host: '127.0.0.1', port: 0 });
}

let plainUrl: string;
let validUrl: string;
let expiredUrl: string;
let expiringUrl: string;
let validCertificate: TestCertificate;
let expiredCertificate: TestCertificate;
let expiringCertificate: TestCertificate;

beforeAll(async () => {
  const nowMs = Date.now();
  validCertificate = createCertificate('valid', nowMs - DAY_MS, nowMs + 30 * DAY_MS);
  expiredCertificate = createCertificate('expired', Date.UTC(2020, 0, 1), Date.UTC(2020, 1, 1));
  expiringCertificate = createCertificate('expiring', nowMs - DAY_MS, nowMs + 5 * DAY_MS);
  plainUrl = await startServer();
  validUrl = await startServer(validCertificate);
  expiredUrl = await startServer(expiredCertificate);
  expiringUrl = await startServer(expiringCertificate);
}, 30_000);

afterAll(async () => {
  await Promise.allSettled(servers.map((server) => server.close()));
  rmSync(certificateDir, { recursive: true, force: true });
});

async function probeOnce(config: Omit<HttpProbeSourceConfigInput, 'kind' | 'name' | 'integration'>): Promise<LagSample[]> {
  const source = createHttpProbeSource({ kind: 'http_probe', name: 'partner-apis', integration: 'edi', ...config });
  try {
    return (await source.poll(new Date())).samples;
  } finally {
    await source.close();
  }
}

describe('http_probe source', () => {
  it('reports a healthy endpoint', async () => {
    const [sample] = await probeOnce({ targets: [{ url: `${plainUrl}/api/stock?token=secret` }] });

    expect(sample?.status).toBe('ok');
    expect(sample?.entity).toBe(`GET ${plainUrl}/api/stock`);
    expect(sample?.attributes?.status_code).toBe('200');
    expect(Number(sample?.attributes?.latency_ms)).toBeGreaterThan(0);
    expect(sample?.attributes?.url).not.toContain('secret');
    expect(sample?.attributes?.tls_days_left).toBeUndefined();
    expect(sample?.lagSeconds).toBeUndefined();
    expect(sample?.depth).toBeUndefined();
  });

  it('checks expected status codes', async () => {
    const samples = await probeOnce({
      targets: [
        { name: 'head', url: `${plainUrl}/health`, method: 'HEAD', expectedStatus: [204] },
        { name: 'unavailable', url: `${plainUrl}/status/503` },
        { name: 'redirect allowed', url: `${plainUrl}/status/302`, expectedStatus: ['2xx', '3xx'] },
      ],
    });

    expect(samples.map((sample) => sample.status)).toEqual(['ok', 'source_down', 'ok']);
    expect(samples[1]?.attributes?.status_code).toBe('503');
    expect(samples[1]?.detail).toBe('unexpected status 503, expected 2xx');
  });

  it('sends a webhook body and headers', async () => {
    const [sample] = await probeOnce({
      targets: [
        {
          name: 'tms webhook',
          url: `${plainUrl}/hooks/shipment`,
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-partner-key': 'probe-key' },
          body: '{"event":"probe"}',
          workflow: 'shipment_milestone',
        },
      ],
    });

    expect(sample?.status).toBe('ok');
    expect(sample?.workflow).toBe('shipment_milestone');
    const request = received.find((entry) => entry.path === '/hooks/shipment');
    expect(request?.method).toBe('POST');
    expect(request?.body).toBe('{"event":"probe"}');
    expect(request?.header).toBe('probe-key');
  });

  it('reads certificate expiry from the handshake', async () => {
    const [sample] = await probeOnce({ targets: [{ url: `${validUrl}/health` }], tls: { ca: validCertificate.cert } });

    expect(sample?.status).toBe('ok');
    expect(sample?.attributes?.tls_authorized).toBe('true');
    const daysLeft = Number(sample?.attributes?.tls_days_left);
    expect(daysLeft).toBeGreaterThan(29.9);
    expect(daysLeft).toBeLessThanOrEqual(30);
    expect(sample?.attributes?.tls_expiring).toBeUndefined();
    expect(sample?.attributes?.tls_subject).toContain('CN=syncwatch-valid');
  });

  it('trusts a CA file', async () => {
    const caFile = join(certificateDir, 'valid', 'cert.pem');

    const [sample] = await probeOnce({ targets: [{ url: `${validUrl}/health` }], tls: { caFile } });

    expect(sample?.status).toBe('ok');
  });

  it('stops at an untrusted certificate', async () => {
    const before = received.filter((entry) => entry.path === '/untrusted').length;

    const [sample] = await probeOnce({ targets: [{ url: `${validUrl}/untrusted` }] });

    expect(sample?.status).toBe('source_down');
    expect(sample?.detail).toContain('TLS certificate not trusted');
    expect(sample?.attributes?.tls_authorized).toBe('false');
    expect(Number(sample?.attributes?.tls_days_left)).toBeGreaterThan(29);
    expect(sample?.attributes?.status_code).toBeUndefined();
    // The request is never sent to a server whose certificate failed the check.
    expect(received.filter((entry) => entry.path === '/untrusted').length).toBe(before);
  });

  it('reports untrusted certificates without verify', async () => {
    const [sample] = await probeOnce({ targets: [{ url: `${validUrl}/health` }], tls: { verify: false } });

    expect(sample?.status).toBe('ok');
    expect(sample?.attributes?.tls_authorized).toBe('false');
    expect(sample?.attributes?.tls_error).toBeDefined();
  });

  it('reports an expired certificate', async () => {
    const [sample] = await probeOnce({ targets: [{ url: `${expiredUrl}/health` }], tls: { ca: expiredCertificate.cert } });

    expect(sample?.status).toBe('source_down');
    expect(sample?.attributes?.tls_error).toBe('CERT_HAS_EXPIRED');
    expect(Number(sample?.attributes?.tls_days_left)).toBeLessThan(-1_000);
    expect(sample?.attributes?.tls_not_after).toBe('2020-02-01T00:00:00.000Z');
    expect(sample?.attributes?.tls_expiring).toBe('true');
  });

  it('flags a certificate near expiry', async () => {
    const [sample] = await probeOnce({
      targets: [{ url: `${expiringUrl}/health` }],
      tls: { ca: expiringCertificate.cert },
      tlsWarnDays: 14,
    });

    expect(sample?.status).toBe('ok');
    expect(sample?.attributes?.tls_expiring).toBe('true');
    expect(Number(sample?.attributes?.tls_days_left)).toBeLessThanOrEqual(5);
  });

  it('reports a closed port as down', async () => {
    const [sample] = await probeOnce({ targets: [{ url: 'http://127.0.0.1:1/health' }] });

    expect(sample?.status).toBe('source_down');
    expect(sample?.detail).toContain('ECONNREFUSED');
    expect(sample?.attributes?.status_code).toBeUndefined();
  });

  it('times out a slow endpoint', async () => {
    const [sample] = await probeOnce({ targets: [{ url: `${plainUrl}/slow`, timeoutMs: 200 }] });

    expect(sample?.status).toBe('source_down');
    expect(sample?.detail).toBe('timed out after 200 ms');
    expect(Number(sample?.attributes?.latency_ms)).toBeGreaterThanOrEqual(190);
  });

  it('rejects an unreadable CA file', () => {
    const create = () =>
      createHttpProbeSource({
        kind: 'http_probe',
        name: 'partner-apis',
        integration: 'edi',
        targets: [{ url: validUrl }],
        tls: { caFile: join(certificateDir, 'missing.pem') },
      });

    expect(create).toThrow(SOURCE_ERROR_CODES.invalidConfig);
  });
});
