import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createClientBatchInserter, openIngest, type Ingest, type IngestLimits } from '../../../collector/ingest/index.js';
import { registerOtlpReceiver } from '../../../collector/otlp/index.js';
import { createBatchedTraceWriter } from '../../../collector/trace-writer.js';
import { migrate, openClickHouse } from '../../../store/index.js';

const rootDir = mkdtempSync(join(tmpdir(), 'syncwatch-backpressure-'));
const client = openClickHouse({ kind: 'embedded', dataDir: join(rootDir, 'store') });
let storeDown = false;
let ingest: Ingest | undefined;
let app: FastifyInstance | undefined;

/** Wraps the embedded client so that `exec`, which the batch inserter uses, fails while `storeDown` is set. */
function wrapWithOutage(inner: ClickHouseClient): ClickHouseClient {
  return new Proxy(inner, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      if (property !== 'exec') return value.bind(target);
      return (...args: unknown[]) => {
        if (storeDown) return Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:8123'));
        return (value as (...callArgs: unknown[]) => Promise<unknown>).apply(target, args);
      };
    },
  });
}

async function startReceiver(dataDir: string, limits: IngestLimits): Promise<string> {
  ingest = await openIngest({
    inserter: createClientBatchInserter(wrapWithOutage(client)),
    dataDir,
    limits: { flushIntervalMs: 10, retryInitialMs: 20, retryMaxMs: 50, ...limits },
  });
  app = Fastify();
  registerOtlpReceiver(app, { writer: createBatchedTraceWriter(ingest) });
  return `${await app.listen({ host: '127.0.0.1', port: 0 })}/v1/traces`;
}

/** Posts one OTLP/JSON request with `spanCount` spans whose names carry `padding` bytes. */
async function postSpans(url: string, spanCount: number, padding = 0): Promise<Response> {
  const traceId = Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('hex');
  const spans = Array.from({ length: spanCount }, () => ({
    traceId,
    spanId: Buffer.from(crypto.getRandomValues(new Uint8Array(8))).toString('hex'),
    name: `quality hold ${'x'.repeat(padding)}`,
    startTimeUnixNano: String(BigInt(Date.now()) * 1_000_000n),
    endTimeUnixNano: String(BigInt(Date.now()) * 1_000_000n + 1_000n),
  }));
  const body = { resourceSpans: [{ resource: { attributes: [] }, scopeSpans: [{ scope: {}, spans }] }] };
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

async function readErrorCode(response: Response): Promise<string | undefined> {
  const status = (await response.json()) as { details?: { reason?: string }[] };
  return status.details?.[0]?.reason;
}

/** Mounts a tmpfs of `size` on a new directory, or returns undefined where mounting is not permitted. */
function mountTinyFileSystem(size: string): string | undefined {
  const mountPoint = join(rootDir, `tmpfs-${Date.now()}`);
  mkdirSync(mountPoint);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', mountPoint], { stdio: 'ignore' });
    return mountPoint;
  } catch {
    return undefined;
  }
}

const mountedFileSystems: string[] = [];

beforeAll(async () => {
  await migrate(client);
});

afterEach(async () => {
  storeDown = false;
  await app?.close();
  await ingest?.close();
  app = undefined;
  ingest = undefined;
});

afterAll(async () => {
  for (const mountPoint of mountedFileSystems) {
    execFileSync('umount', [mountPoint], { stdio: 'ignore' });
  }
  await client.close();
  rmSync(rootDir, { recursive: true, force: true });
});

describe('ingest backpressure', () => {
  it('answers 429 when the spool is full', async () => {
    const url = await startReceiver(join(rootDir, 'full-spool'), { maxSpoolBytes: 64 * 1024 });
    storeDown = true;

    const statuses: number[] = [];
    let rejected: Response | undefined;
    for (let attempt = 0; attempt < 50 && !rejected; attempt++) {
      const response = await postSpans(url, 20, 200);
      statuses.push(response.status);
      if (response.status !== 200) rejected = response;
    }
    expect(statuses.filter((status) => status === 200).length).toBeGreaterThan(0);
    expect(rejected?.status).toBe(429);
    expect(rejected?.headers.get('retry-after')).toBe('5');
    expect(await readErrorCode(rejected!)).toBe('COLLECTOR_ERR_SPOOL_FULL');

    storeDown = false;
    await ingest!.drain();
    expect(ingest!.spoolBytes).toBe(0);
    expect((await postSpans(url, 20, 200)).status).toBe(200);
  });

  it('answers 503 when the disk is full', async (context) => {
    const mountPoint = mountTinyFileSystem('256k');
    if (!mountPoint) {
      context.skip('mounting a tmpfs needs root; the spool unit tests inject ENOSPC instead');
      return;
    }
    mountedFileSystems.push(mountPoint);
    const url = await startReceiver(mountPoint, {});
    storeDown = true;

    let rejected: Response | undefined;
    let accepted = 0;
    for (let attempt = 0; attempt < 100 && !rejected; attempt++) {
      const response = await postSpans(url, 20, 500);
      if (response.status === 200) accepted++;
      else rejected = response;
    }
    expect(accepted).toBeGreaterThan(0);
    expect(rejected?.status).toBe(503);
    expect(rejected?.headers.get('retry-after')).toBe('10');
    expect(await readErrorCode(rejected!)).toBe('COLLECTOR_ERR_SPOOL_WRITE_FAILED');

    storeDown = false;
    await ingest!.drain();
    expect((await postSpans(url, 20, 500)).status).toBe(200);
  });
});
