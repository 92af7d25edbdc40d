import { describe, expect, it } from 'vitest';
import {
  detectUnackedStall,
  type UnackedHistory,
  type UnackedReading,
} from '../../../../collector/sources/index.js';

const START_MS = Date.UTC(2026, 0, 5, 6, 0, 0);
const POLL_MS = 15_000;

function reading(pollIndex: number, fields: Partial<UnackedReading> = {}): UnackedReading {
  return {
    observedAtMs: START_MS + pollIndex * POLL_MS,
    unacknowledged: 5,
    depth: 0,
    ackPerSecond: 0,
    ackTotal: 100,
    deliveredTotal: 105,
    ...fields,
  };
}

/** Runs the readings in order and returns the result of each poll. */
function run(readings: UnackedReading[]): ReturnType<typeof detectUnackedStall>[] {
  let history: UnackedHistory | undefined;
  return readings.map((current) => {
    const result = detectUnackedStall(current, history);
    history = result.history;
    return result;
  });
}

describe('detectUnackedStall', () => {
  it('clears a queue without unacked messages', () => {
    const [first, second] = run([reading(0, { unacknowledged: 0 }), reading(1, { unacknowledged: 0 })]);

    expect(first?.state).toBe('clear');
    expect(second?.state).toBe('clear');
  });

  it('waits one poll before flagging', () => {
    const [first] = run([reading(0)]);

    expect(first?.state).toBe('unknown');
    expect(first?.history.unackedSinceMs).toBe(START_MS);
  });

  it('flags unchanged totals as a stall', () => {
    const results = run([reading(0), reading(1), reading(2)]);

    expect(results[1]).toMatchObject({ state: 'stalled', stalledSinceMs: START_MS, stalledSeconds: 15 });
    expect(results[2]).toMatchObject({ state: 'stalled', stalledSinceMs: START_MS, stalledSeconds: 30 });
  });

  it('keeps the stall across new deliveries', () => {
    const results = run([reading(0), reading(1, { unacknowledged: 8, deliveredTotal: 108, depth: 0 })]);

    expect(results[1]).toMatchObject({ state: 'stalled', stalledSeconds: 15 });
  });

  it('clears when the ack total grows', () => {
    const results = run([reading(0), reading(1), reading(2, { ackTotal: 101, deliveredTotal: 106 })]);

    expect(results[1]?.state).toBe('stalled');
    expect(results[2]?.state).toBe('clear');
    expect(results[2]?.history.unackedSinceMs).toBe(START_MS + 2 * POLL_MS);
  });

  it('measures a new stall from the last ack', () => {
    const results = run([reading(0), reading(1, { ackTotal: 101, deliveredTotal: 106 }), reading(2, { ackTotal: 101, deliveredTotal: 106 })]);

    expect(results[1]?.state).toBe('clear');
    expect(results[2]).toMatchObject({ state: 'stalled', stalledSinceMs: START_MS + POLL_MS, stalledSeconds: 15 });
  });

  it('clears on a positive ack rate', () => {
    const results = run([reading(0), reading(1, { ackPerSecond: 0.4 })]);

    expect(results[1]?.state).toBe('clear');
  });

  it('clears after a statistics reset', () => {
    const results = run([reading(0), reading(1, { ackTotal: 0, deliveredTotal: 5 })]);

    expect(results[1]?.state).toBe('clear');
  });

  it('restarts when unacked count drops', () => {
    const results = run([reading(0), reading(1), reading(2, { unacknowledged: 3 })]);

    expect(results[2]?.state).toBe('unknown');
    expect(results[2]?.history.unackedSinceMs).toBe(START_MS + 2 * POLL_MS);
  });

  it('restarts when rejected messages are replaced', () => {
    const results = run([reading(0), reading(1, { deliveredTotal: 110 })]);

    expect(results[1]?.state).toBe('unknown');
  });

  it('restarts after an empty poll', () => {
    const results = run([reading(0, { unacknowledged: 0 }), reading(1), reading(2)]);

    expect(results[1]?.state).toBe('unknown');
    expect(results[2]).toMatchObject({ state: 'stalled', stalledSinceMs: START_MS + POLL_MS });
  });

  describe('without ack figures', () => {
    const bare = { ackPerSecond: undefined, ackTotal: undefined, deliveredTotal: undefined };

    it('flags unchanged counts as a stall', () => {
      const results = run([reading(0, bare), reading(1, bare)]);

      expect(results[1]).toMatchObject({ state: 'stalled', stalledSeconds: 15 });
    });

    it('clears when the counts change', () => {
      const results = run([reading(0, bare), reading(1, { ...bare, depth: 4 }), reading(2, { ...bare, unacknowledged: 6, depth: 4 })]);

      expect(results[1]?.state).toBe('clear');
      expect(results[2]?.state).toBe('clear');
    });
  });
});
