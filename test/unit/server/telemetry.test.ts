import { describe, expect, it } from 'vitest';
import type { LagSource, PollResult } from '../../../collector/sources/index.js';
import { createMetricsRegistry } from '../../../server/metrics.js';
import { instrumentLagSource } from '../../../server/telemetry.js';

function createSource(poll: () => Promise<PollResult>): LagSource {
  return { name: 'wms-outbox', kind: 'outbox', intervalMs: 10_000, poll, close: async () => {} };
}

const okSample = {
  observedAt: new Date(0),
  integration: 'odoo-wms',
  workflow: '',
  source: 'wms-outbox',
  sourceKind: 'outbox',
  entity: 'stock_moves',
  status: 'ok',
} as const;

describe('instrumentLagSource', () => {
  it('counts poll outcomes', async () => {
    const metrics = createMetricsRegistry({ includeProcessMetrics: false });
    const results: (() => Promise<PollResult>)[] = [
      async () => ({ samples: [okSample], failures: [] }),
      async () => ({ samples: [{ ...okSample, status: 'source_down' }], failures: [] }),
      async () => {
        throw new Error('connection refused');
      },
    ];
    let call = 0;
    const source = instrumentLagSource(createSource(() => (results[call++] as () => Promise<PollResult>)()), metrics);

    await source.poll(new Date());
    await source.poll(new Date());
    await expect(source.poll(new Date())).rejects.toThrow('connection refused');

    const text = await metrics.serialize();
    expect(text).toContain('syncwatch_source_polls_total{source="wms-outbox",outcome="ok"} 1');
    expect(text).toContain('syncwatch_source_polls_total{source="wms-outbox",outcome="down"} 1');
    expect(text).toContain('syncwatch_source_polls_total{source="wms-outbox",outcome="error"} 1');
  });

  it('passes other members through', async () => {
    let closed = false;
    const inner: LagSource = { ...createSource(async () => ({ samples: [], failures: [] })), close: async () => void (closed = true) };
    const source = instrumentLagSource(inner, createMetricsRegistry({ includeProcessMetrics: false }));

    await source.close();

    expect(source.name).toBe('wms-outbox');
    expect(source.intervalMs).toBe(10_000);
    expect(closed).toBe(true);
  });
});
