import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigObject } from '../../../config/index.js';
import { startService } from '../../../server/index.js';

const dataDir = mkdtempSync(join(tmpdir(), 'syncwatch-start-failure-'));
const logger = pino({ level: 'silent' });
let occupied: Server;
let occupiedPort: number;

beforeAll(async () => {
  occupied = createServer();
  await new Promise<void>((resolve) => occupied.listen(0, '127.0.0.1', resolve));
  occupiedPort = (occupied.address() as { port: number }).port;
});

afterAll(async () => {
  await new Promise((resolve) => occupied.close(resolve));
  rmSync(dataDir, { recursive: true, force: true });
});

describe('startService on a port in use', () => {
  it('rejects with the listen error', async () => {
    const config = parseConfigObject({ store: { dataDir }, collector: { otlp: { port: occupiedPort } }, api: { port: 0 } });
    await expect(startService({ config, logger })).rejects.toThrow(/EADDRINUSE/);
  });

  it('releases the store for the next start', async () => {
    const config = parseConfigObject({ store: { dataDir }, collector: { otlp: { port: 0 } }, api: { port: 0 } });
    const service = await startService({ config, logger });
    const result = await service.client.query({ query: 'SELECT 1 AS one', format: 'JSONEachRow' });
    expect(await result.json()).toEqual([{ one: 1 }]);
    await service.stop();
  });
});
