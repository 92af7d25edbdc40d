import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  createSource,
  DEFAULT_NATS_JETSTREAM_POLL_INTERVAL_MS,
  DEFAULT_REDIS_STREAMS_POLL_INTERVAL_MS,
  natsJetstreamSourceConfigSchema,
  redisStreamsSourceConfigSchema,
  SOURCE_ERROR_CODES,
} from '../../../../collector/sources/index.js';
import { parseStreamIdMs } from '../../../../collector/sources/redis-streams-client.js';
import { configSchema } from '../../../../config/schema.js';

const natsBase = {
  kind: 'nats_jetstream' as const,
  name: 'plant-bus',
  integration: 'mes',
  url: 'nats://127.0.0.1:4222',
};

const redisBase = {
  kind: 'redis_streams' as const,
  name: 'wms-events',
  integration: 'wms',
  url: 'redis://127.0.0.1:6379/0',
};

function issuePaths(result: { success: boolean; error?: z.ZodError }): string[] {
  return (result.error?.issues ?? []).map((issue) => issue.path.join('.'));
}

describe('natsJetstreamSourceConfigSchema', () => {
  it('accepts streams with chosen consumers', () => {
    const config = natsJetstreamSourceConfigSchema.parse({
      ...natsBase,
      url: 'nats://a.local:4222, tls://b.local:4222',
      streams: ['ORDERS', { name: 'HOLDS', workflow: 'quality_hold', consumers: ['qms', { name: 'audit' }] }],
    });

    expect(config.streams).toHaveLength(2);
  });

  it('rejects non-NATS URLs', () => {
    const result = natsJetstreamSourceConfigSchema.safeParse({ ...natsBase, url: 'http://127.0.0.1:4222', streams: ['A'] });

    expect(result.success).toBe(false);
    expect(issuePaths(result)).toEqual(['url']);
  });

  it('rejects stream names with dots', () => {
    const result = natsJetstreamSourceConfigSchema.safeParse({ ...natsBase, streams: ['orders.eu'] });

    expect(result.success).toBe(false);
    expect(issuePaths(result)).toContain('streams.0');
  });

  it('requires at least one stream', () => {
    const result = natsJetstreamSourceConfigSchema.safeParse({ ...natsBase, streams: [] });

    expect(result.success).toBe(false);
    expect(issuePaths(result)).toEqual(['streams']);
  });

  it('creates source with default interval', async () => {
    const source = createSource({ ...natsBase, streams: ['ORDERS'] });

    expect(source.kind).toBe('nats_jetstream');
    expect(source.intervalMs).toBe(DEFAULT_NATS_JETSTREAM_POLL_INTERVAL_MS);
    await source.close();
  });

  it('raises config error with code', () => {
    expect(() => createSource({ ...natsBase, streams: ['A'], interval: 'soon' })).toThrow(
      SOURCE_ERROR_CODES.invalidConfig,
    );
  });
});

describe('redisStreamsSourceConfigSchema', () => {
  it('accepts streams with chosen groups', () => {
    const config = redisStreamsSourceConfigSchema.parse({
      ...redisBase,
      streams: ['wms:moves', { name: 'wms:picks', groups: ['odoo', { name: 'tms', workflow: 'shipment_milestone' }] }],
    });

    expect(config.streams).toHaveLength(2);
  });

  it('rejects non-Redis URLs', () => {
    const result = redisStreamsSourceConfigSchema.safeParse({ ...redisBase, url: '127.0.0.1:6379', streams: ['a'] });

    expect(result.success).toBe(false);
    expect(issuePaths(result)).toEqual(['url']);
  });

  it('rejects unknown keys in group entries', () => {
    const result = redisStreamsSourceConfigSchema.safeParse({
      ...redisBase,
      streams: [{ name: 'a', groups: [{ name: 'g', lag: 0 }] }],
    });

    expect(result.success).toBe(false);
  });

  it('creates source with default interval', async () => {
    const source = createSource({ ...redisBase, streams: ['wms:moves'] });

    expect(source.kind).toBe('redis_streams');
    expect(source.intervalMs).toBe(DEFAULT_REDIS_STREAMS_POLL_INTERVAL_MS);
    await source.close();
  });
});

describe('configSchema stream sources', () => {
  it('accepts both kinds under sources', () => {
    const config = configSchema.parse({
      integrations: [
        { name: 'mes', systems: ['odoo', 'mes'] },
        { name: 'wms', systems: ['odoo', 'wms'] },
      ],
      sources: [
        { ...natsBase, streams: ['ORDERS'] },
        { ...redisBase, streams: ['wms:moves'] },
      ],
    });

    expect(config.sources.map((source) => source.kind)).toEqual(['nats_jetstream', 'redis_streams']);
  });
});

describe('parseStreamIdMs', () => {
  it('reads milliseconds of an id', () => {
    expect(parseStreamIdMs('1700000000123-7')).toBe(1_700_000_000_123);
  });

  it('rejects an id without milliseconds', () => {
    expect(() => parseStreamIdMs('abc-1')).toThrow('invalid stream id "abc-1"');
  });
});
