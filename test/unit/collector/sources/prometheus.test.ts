import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  createSource,
  prometheusMappingSchema,
  prometheusSourceConfigSchema,
} from '../../../../collector/sources/index.js';

function issuePaths(result: { success: boolean; error?: z.ZodError }): string[] {
  return (result.error?.issues ?? []).map((issue) => issue.path.join('.'));
}

describe('prometheusSourceConfigSchema', () => {
  const base = { kind: 'prometheus' as const, name: 'kafka', integration: 'wms', url: 'http://127.0.0.1:9308/metrics' };

  it('requires a preset or mappings', () => {
    const result = prometheusSourceConfigSchema.safeParse(base);

    expect(issuePaths(result)).toContain('mappings');
  });

  it('rejects an unknown preset', () => {
    const result = prometheusSourceConfigSchema.safeParse({ ...base, preset: 'activemq' });

    expect(issuePaths(result)).toContain('preset');
  });

  it('rejects a mapping without entity labels', () => {
    const result = prometheusMappingSchema.safeParse({ metric: 'lag', entityLabels: [], field: 'depth' });

    expect(result.success).toBe(false);
  });

  it('rejects an unknown field', () => {
    const result = prometheusMappingSchema.safeParse({ metric: 'lag', entityLabels: ['group'], field: 'backlog' });

    expect(result.success).toBe(false);
  });

  it('creates a source through the registry', async () => {
    const source = createSource({ ...base, preset: 'kafka_exporter', interval: '30s' });

    expect(source.kind).toBe('prometheus');
    expect(source.intervalMs).toBe(30_000);
    await source.close();
  });
});
