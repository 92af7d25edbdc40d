import { afterEach, describe, expect, it, vi } from 'vitest';
import { AnalyzerLoop, CYCLE_SETTLE_MS } from '../../../analyzer/loop.js';
import type { AnalyzerStage } from '../../../analyzer/stage.js';

afterEach(() => {
  vi.useRealTimers();
});

function recordingStage(): { stage: AnalyzerStage; startedAt: number[] } {
  const startedAt: number[] = [];
  return {
    startedAt,
    stage: {
      name: 'recording',
      run: async () => {
        startedAt.push(Date.now());
        return [];
      },
    },
  };
}

describe('AnalyzerLoop schedule', () => {
  it('starts cycles just after minutes end', async () => {
    vi.useFakeTimers({ now: new Date('2026-03-02T06:00:17.250Z') });
    const { stage, startedAt } = recordingStage();
    const loop = new AnalyzerLoop({ stages: [stage], sinks: [] });
    loop.start();
    await vi.advanceTimersByTimeAsync(3 * 60_000);
    await loop.stop();

    expect(startedAt.map((ms) => new Date(ms).toISOString())).toEqual([
      new Date(Date.parse('2026-03-02T06:01:00.000Z') + CYCLE_SETTLE_MS).toISOString(),
      new Date(Date.parse('2026-03-02T06:02:00.000Z') + CYCLE_SETTLE_MS).toISOString(),
      new Date(Date.parse('2026-03-02T06:03:00.000Z') + CYCLE_SETTLE_MS).toISOString(),
    ]);
  });

  it('runs the first cycle within an interval', async () => {
    vi.useFakeTimers({ now: new Date('2026-03-02T06:00:05.999Z') });
    const { stage, startedAt } = recordingStage();
    const loop = new AnalyzerLoop({ stages: [stage], sinks: [], intervalMs: 60_000 });
    loop.start();
    await vi.advanceTimersByTimeAsync(1);
    await loop.stop();
    expect(startedAt).toEqual([Date.parse('2026-03-02T06:00:06.000Z')]);
  });
});
