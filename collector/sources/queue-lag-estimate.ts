/**
 * Head-of-queue age for brokers that do not always report it. A broker that
 * stamps its head message gives the age directly. Otherwise the age is
 * estimated from the drain rate (Little's law: waiting time is about depth
 * divided by throughput), or, while nothing drains, from the time the queue
 * has been stalled.
 */

/** Counts of one queue from one poll. */
export interface QueueReading {
  observedAtMs: number;
  /** Messages ready for delivery. */
  depth: number;
  consumers: number;
  /** Deliveries per second, when the broker reports them. */
  outflowPerSecond?: number;
  /** Publish time of the head message in milliseconds, when the broker reports it. */
  headTimestampMs?: number;
}

/** State kept between polls of one queue. */
export interface QueueLagHistory {
  observedAtMs: number;
  depth: number;
  lagSeconds?: number;
  /** Start of the current stall: the head message has been waiting at least since then. */
  stalledSinceMs?: number;
}

/** Head-of-queue age of one poll. */
export interface QueueLagEstimate {
  lagSeconds?: number;
  lagEstimated: boolean;
  /** True when the broker's timestamp is ahead of our clock and the lag was clamped at zero. */
  clockAhead: boolean;
  /** Explanation when `lagSeconds` is undefined. */
  reason?: string;
  history: QueueLagHistory;
}

/**
 * Computes the head-of-queue age of `reading` from the broker's head
 * timestamp, the drain rate or the stall time, and returns the history to
 * pass to the next poll of the same queue.
 */
export function estimateQueueLag(reading: QueueReading, previous: QueueLagHistory | undefined): QueueLagEstimate {
  const base = { observedAtMs: reading.observedAtMs, depth: reading.depth };

  // An empty queue has nothing waiting: its lag is zero, not unknown.
  if (reading.depth === 0) {
    return { lagSeconds: 0, lagEstimated: false, clockAhead: false, history: { ...base, lagSeconds: 0 } };
  }

  if (reading.headTimestampMs !== undefined) {
    const raw = (reading.observedAtMs - reading.headTimestampMs) / 1000;
    const lagSeconds = Math.max(0, raw);
    return { lagSeconds, lagEstimated: false, clockAhead: raw < 0, history: { ...base, lagSeconds } };
  }

  if (reading.outflowPerSecond !== undefined && reading.outflowPerSecond > 0) {
    const lagSeconds = reading.depth / reading.outflowPerSecond;
    return { lagSeconds, lagEstimated: true, clockAhead: false, history: { ...base, lagSeconds } };
  }

  // With no rates, a queue with consumers may drain at any speed, so its head age is unknown.
  const stalled = reading.outflowPerSecond === 0 || (reading.outflowPerSecond === undefined && reading.consumers === 0);
  if (!stalled) {
    return {
      lagEstimated: false,
      clockAhead: false,
      reason: 'head message age is not reported and the drain rate is unknown while consumers are attached',
      history: base,
    };
  }

  const stalledSinceMs = findStallStart(reading, previous);
  if (stalledSinceMs === undefined) {
    return {
      lagEstimated: false,
      clockAhead: false,
      reason: 'head message age is not reported; the next poll estimates it from the stall time',
      history: { ...base, stalledSinceMs: reading.observedAtMs },
    };
  }
  const lagSeconds = Math.max(0, (reading.observedAtMs - stalledSinceMs) / 1000);
  return { lagSeconds, lagEstimated: true, clockAhead: false, history: { ...base, lagSeconds, stalledSinceMs } };
}

/**
 * Returns since when the current head message has been waiting at least, or
 * undefined when this poll is the first to see the stall and nothing earlier
 * gives the head's age.
 */
function findStallStart(reading: QueueReading, previous: QueueLagHistory | undefined): number | undefined {
  if (previous === undefined) return undefined;

  // Messages left although nothing was delivered (TTL, purge, basic.get), so
  // the head is newer than before and its age starts from this poll.
  if (reading.depth < previous.depth) return reading.observedAtMs;

  if (previous.stalledSinceMs !== undefined) return previous.stalledSinceMs;

  // The queue was empty at the previous poll, so the head arrived between the
  // two polls. The midpoint is the expected arrival time under steady traffic.
  if (previous.depth === 0) return (previous.observedAtMs + reading.observedAtMs) / 2;

  // The stall starts now and the head was already `lagSeconds` old at the previous poll.
  if (previous.lagSeconds !== undefined) return previous.observedAtMs - previous.lagSeconds * 1000;
  return undefined;
}
