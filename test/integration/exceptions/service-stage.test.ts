import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigObject } from '../../../config/index.js';
import { startService, type RunningService } from '../../../server/index.js';
import { createRecordingSink } from '../../support/alert-events.js';

const dataDir = mkdtempSync(join(tmpdir(), 'syncwatch-service-exceptions-'));
const recorder = createRecordingSink();
const received = recorder.events;
let service: RunningService;
const now = Date.now();

beforeAll(async () => {
  const config = parseConfigObject({ store: { dataDir }, collector: { otlp: { port: 0 } }, api: { port: 0 }, analyzer: { interval: '1h' } });
  service = await startService({ config, logger: pino({ level: 'silent' }), alertSinks: [recorder] });
  await service.client.insert({
    table: 'integration_failures',
    format: 'JSONEachRow',
    values: [
      {
        observed_at: now - 60_000,
        failed_at: now - 90_000,
        integration: 'odoo-wms',
        workflow: '',
        source: 'odoo-jobs',
        source_kind: 'queue_job',
        entity: 'stock.picking',
        failure_id: 'job-77',
        exception_name: 'odoo.exceptions.UserError',
        exception_message: 'You cannot validate a transfer if no quantities are reserved nor done.',
        retry_count: 0,
        attributes: {},
      },
    ],
  });
}, 60_000);

afterAll(async () => {
  await service?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('service analyzer cycle', () => {
  it('runs the exception stage', async () => {
    const cycle = await service.runAnalyzerCycle(new Date(now));
    const exceptionEvents = cycle.events.filter((event) => event.kind === 'exception');

    expect(cycle.failures).toEqual([]);
    expect(exceptionEvents).toHaveLength(1);
    expect(exceptionEvents[0]?.integration).toBe('odoo-wms');
    expect(exceptionEvents[0]?.exception?.category).toBe('business_rule_violation');
    expect(exceptionEvents[0]?.exception?.retryable).toBe(false);
  });
});
