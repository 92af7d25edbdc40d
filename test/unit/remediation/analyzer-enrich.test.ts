import { describe, expect, it } from 'vitest';
import type { AlertEvent, AlertSink } from '../../../alerts/alert.js';
import { AnalyzerLoop } from '../../../analyzer/loop.js';

const event: AlertEvent = {
  incidentId: 'inc-1',
  state: 'opened',
  kind: 'exception',
  severity: 'critical',
  title: 'Releases to MES fail',
  explanation: 'timeouts',
  at: new Date('2026-03-02T08:00:00Z'),
};

function recordingSink(): AlertSink & { received: AlertEvent[] } {
  const received: AlertEvent[] = [];
  return { name: 'recorder', received, send: async (sent) => void received.push(sent), close: async () => undefined };
}

describe('AnalyzerLoop enrich', () => {
  it('hands enriched events to sinks and the result', async () => {
    const sink = recordingSink();
    const proposal = { proposalId: 'rp-1', action: 'hold_channel', summary: 'hold', expiresAt: new Date('2026-03-02T08:30:00Z') };
    const loop = new AnalyzerLoop({
      stages: [{ name: 'fixed', run: async () => [event] }],
      sinks: [sink],
      enrich: async (original) => ({ ...original, proposals: [proposal] }),
    });

    const cycle = await loop.runCycle(new Date());

    expect(sink.received[0]?.proposals).toEqual([proposal]);
    expect(cycle.events).toEqual(sink.received);
  });

  it('sends the event unchanged when enrich fails', async () => {
    const sink = recordingSink();
    const loop = new AnalyzerLoop({
      stages: [{ name: 'fixed', run: async () => [event] }],
      sinks: [sink],
      enrich: async () => {
        throw new Error('control plane unreachable');
      },
    });

    await loop.runCycle(new Date());

    expect(sink.received).toEqual([event]);
  });
});
