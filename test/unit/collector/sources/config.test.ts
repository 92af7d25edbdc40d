import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  createSource,
  DEFAULT_ENQUEUED_STUCK_AFTER_SECONDS,
  DEFAULT_RABBITMQ_POLL_INTERVAL_MS,
  DEFAULT_STARTED_STUCK_AFTER_SECONDS,
  MIN_POLL_INTERVAL_MS,
  parseExceptionInfo,
  queueJobSourceConfigSchema,
  rabbitmqSourceConfigSchema,
  SOURCE_ERROR_CODES,
} from '../../../../collector/sources/index.js';

const rabbitmqBase = {
  kind: 'rabbitmq' as const,
  name: 'mes-bus',
  integration: 'mes',
  url: 'amqp://guest:guest@127.0.0.1:5672',
};

const queueJobBase = {
  kind: 'queue_job' as const,
  name: 'odoo-jobs',
  integration: 'odoo',
  url: 'postgres://odoo_ro@127.0.0.1:5432/odoo',
};

function issuePaths(result: { success: boolean; error?: z.ZodError }): string[] {
  return (result.error?.issues ?? []).map((issue) => issue.path.join('.'));
}

describe('rabbitmqSourceConfigSchema', () => {
  it('accepts named queues with workflows', () => {
    const config = rabbitmqSourceConfigSchema.parse({
      ...rabbitmqBase,
      managementUrl: 'http://127.0.0.1:15672',
      queues: ['mes.orders', { name: 'mes.holds', workflow: 'quality_hold' }],
      interval: '10s',
    });

    expect(config.queues).toHaveLength(2);
    expect(config.interval).toBe(10_000);
  });

  it('rejects unknown keys', () => {
    const result = rabbitmqSourceConfigSchema.safeParse({ ...rabbitmqBase, queues: ['a'], queue: 'b' });

    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.code).toBe('unrecognized_keys');
  });

  it('rejects unknown keys in queue entries', () => {
    const result = rabbitmqSourceConfigSchema.safeParse({ ...rabbitmqBase, queues: [{ name: 'a', lag: 1 }] });

    expect(result.success).toBe(false);
  });

  it('requires queues or a pattern', () => {
    const result = rabbitmqSourceConfigSchema.safeParse(rabbitmqBase);

    expect(issuePaths(result)).toEqual(['queues']);
  });

  it('requires management for a pattern', () => {
    const result = rabbitmqSourceConfigSchema.safeParse({ ...rabbitmqBase, queuePattern: '^mes\\.' });

    expect(issuePaths(result)).toEqual(['queuePattern']);
  });

  it('rejects an invalid pattern', () => {
    const result = rabbitmqSourceConfigSchema.safeParse({
      ...rabbitmqBase,
      managementUrl: 'http://127.0.0.1:15672',
      queuePattern: '(',
    });

    expect(issuePaths(result)).toContain('queuePattern');
  });

  it('rejects a non-AMQP url', () => {
    const result = rabbitmqSourceConfigSchema.safeParse({ ...rabbitmqBase, url: 'http://x', queues: ['a'] });

    expect(issuePaths(result)).toEqual(['url']);
  });

  it('accepts variables in urls', () => {
    const result = rabbitmqSourceConfigSchema.safeParse({
      ...rabbitmqBase,
      url: 'amqp://${MES_USER}:${MES_PASSWORD}@127.0.0.1:5672',
      queues: ['a'],
    });

    expect(result.success).toBe(true);
  });
});

describe('queueJobSourceConfigSchema', () => {
  it('fills defaults', () => {
    const config = queueJobSourceConfigSchema.parse(queueJobBase);

    expect(config.table).toBe('queue_job');
    expect(config.stuckAfterSeconds).toEqual({
      started: DEFAULT_STARTED_STUCK_AFTER_SECONDS,
      enqueued: DEFAULT_ENQUEUED_STUCK_AFTER_SECONDS,
    });
  });

  it('rejects unknown keys', () => {
    const result = queueJobSourceConfigSchema.safeParse({ ...queueJobBase, stuckAfterSeconds: { done: 5 } });

    expect(result.success).toBe(false);
    expect(issuePaths(result)).toEqual(['stuckAfterSeconds']);
  });

  it('rejects an unsafe table name', () => {
    const result = queueJobSourceConfigSchema.safeParse({ ...queueJobBase, table: 'queue_job; DROP TABLE x' });

    expect(issuePaths(result)).toEqual(['table']);
  });

  it('works in a discriminated union', () => {
    const union = z.discriminatedUnion('kind', [rabbitmqSourceConfigSchema, queueJobSourceConfigSchema]);

    expect(union.parse(queueJobBase).kind).toBe('queue_job');
    expect(union.safeParse({ ...rabbitmqBase, queues: ['a'] }).success).toBe(true);
  });
});

describe('createSource', () => {
  it('creates the source its kind names', async () => {
    const source = createSource({ ...rabbitmqBase, queues: ['a'] });

    expect(source.kind).toBe('rabbitmq');
    expect(source.name).toBe('mes-bus');
    expect(source.intervalMs).toBe(DEFAULT_RABBITMQ_POLL_INTERVAL_MS);
    await source.close();
  });

  it('takes the interval as a duration', async () => {
    const source = createSource({ ...queueJobBase, interval: '2m' });

    expect(source.intervalMs).toBe(120_000);
    await source.close();
  });

  it('raises a coded error on invalid config', () => {
    expect(() => createSource({ ...rabbitmqBase } as never)).toThrow(SOURCE_ERROR_CODES.invalidConfig);
  });
});

describe('poll interval config', () => {
  it.each([
    ['500ms', 500],
    ['15s', 15_000],
    ['1.5m', 90_000],
    ['1h', 3_600_000],
    ['1d', 86_400_000],
  ])('parses interval %s', async (interval, expected) => {
    const source = createSource({ ...queueJobBase, interval });

    expect(source.intervalMs).toBe(expected);
    await source.close();
  });

  it('takes intervalMs in milliseconds', async () => {
    const source = createSource({ ...queueJobBase, intervalMs: 2_500 });

    expect(source.intervalMs).toBe(2_500);
    await source.close();
  });

  it('prefers intervalMs over interval', async () => {
    const source = createSource({ ...queueJobBase, intervalMs: 2_500, interval: '1m' });

    expect(source.intervalMs).toBe(2_500);
    await source.close();
  });

  it.each([
    ['interval', '5ms'],
    ['interval', 5],
    ['intervalMs', 5],
  ])('rejects %s of %s below minimum', (key, value) => {
    const create = () => createSource({ ...queueJobBase, [key]: value });

    expect(create).toThrow(SOURCE_ERROR_CODES.invalidConfig);
    expect(create).toThrow(`${key}: expected a poll interval of at least ${MIN_POLL_INTERVAL_MS}ms`);
  });

  it('accepts exactly the minimum', async () => {
    const source = createSource({ ...queueJobBase, interval: `${MIN_POLL_INTERVAL_MS}ms` });

    expect(source.intervalMs).toBe(MIN_POLL_INTERVAL_MS);
    await source.close();
  });

  it.each(['15', 'soon', '15 s', '-1s'])('rejects malformed interval %s', (interval) => {
    const create = () => createSource({ ...queueJobBase, interval });

    expect(create).toThrow(SOURCE_ERROR_CODES.invalidConfig);
    expect(create).toThrow('interval: expected a duration such as 500ms, 30s, 5m, 2h or 1d');
  });
});

describe('parseExceptionInfo', () => {
  it('reads the last traceback line', () => {
    const info = 'Traceback (most recent call last):\n  File "a.py", line 3\nodoo.exceptions.UserError: Missing unit\n';

    expect(parseExceptionInfo(info)).toEqual({ name: 'odoo.exceptions.UserError', message: 'Missing unit' });
  });

  it('keeps a line without a message', () => {
    expect(parseExceptionInfo('KeyboardInterrupt')).toEqual({ name: 'KeyboardInterrupt', message: '' });
  });

  it('returns undefined for empty text', () => {
    expect(parseExceptionInfo('\n  \n')).toBeUndefined();
  });
});
