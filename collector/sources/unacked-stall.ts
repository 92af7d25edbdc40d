/**
 * Detection of consumers that keep messages without acknowledging them. Such
 * a queue can show no ready messages and zero head age while nothing is
 * processed, so the time since the last acknowledgement is used as the lag.
 */

/** Unacknowledged-message figures of one queue from one poll. */
export interface UnackedReading {
  observedAtMs: number;
  /** Messages delivered and not yet acknowledged. */
  unacknowledged: number;
  /** Messages ready for delivery. */
  depth: number;
  /** Acknowledgements per second, when the broker reports rates. */
  ackPerSecond?: number;
  /** Acknowledgements since the broker's statistics for the queue began. */
  ackTotal?: number;
  /** Deliveries in acknowledgement mode since the statistics began. */
  deliveredTotal?: number;
}

/** State kept between polls of one queue. */
export interface UnackedHistory {
  observedAtMs: number;
  unacknowledged: number;
  depth: number;
  ackTotal?: number;
  deliveredTotal?: number;
  /** Earliest time since which some message has been unacknowledged with no acknowledgement at all. */
  unackedSinceMs?: number;
}

/**
 * Result of one poll:
 * - `clear`: no message is unacknowledged, or acknowledgements arrived;
 * - `unknown`: messages are unacknowledged, but this is the first poll to see
 *   them without acknowledgements, so the stall has no measured length yet;
 * - `stalled`: messages have been unacknowledged without any acknowledgement
 *   since `stalledSinceMs`.
 */
export type UnackedStall =
  | { state: 'clear' | 'unknown'; history: UnackedHistory }
  | { state: 'stalled'; stalledSinceMs: number; stalledSeconds: number; history: UnackedHistory };

/**
 * Compares `reading` with the previous poll of the same queue and returns
 * whether its consumers stopped acknowledging. The stall length is a lower
 * bound: a message unacknowledged at an earlier poll with no acknowledgement
 * since then is still unacknowledged, so it has waited at least that long.
 */
export function detectUnackedStall(reading: UnackedReading, previous: UnackedHistory | undefined): UnackedStall {
  const history: UnackedHistory = {
    observedAtMs: reading.observedAtMs,
    unacknowledged: reading.unacknowledged,
    depth: reading.depth,
  };
  if (reading.ackTotal !== undefined) history.ackTotal = reading.ackTotal;
  if (reading.deliveredTotal !== undefined) history.deliveredTotal = reading.deliveredTotal;

  if (reading.unacknowledged === 0) return { state: 'clear', history };
  if ((reading.ackPerSecond ?? 0) > 0 || hasAckedSince(reading, previous)) {
    // Messages unacknowledged now may stay so: the next poll measures from here.
    return { state: 'clear', history: { ...history, unackedSinceMs: reading.observedAtMs } };
  }
  if (previous === undefined || previous.unacknowledged === 0 || hasReplacedUnacked(reading, previous)) {
    return { state: 'unknown', history: { ...history, unackedSinceMs: reading.observedAtMs } };
  }

  const stalledSinceMs = previous.unackedSinceMs ?? previous.observedAtMs;
  return {
    state: 'stalled',
    stalledSinceMs,
    stalledSeconds: Math.max(0, (reading.observedAtMs - stalledSinceMs) / 1000),
    history: { ...history, unackedSinceMs: stalledSinceMs },
  };
}

/**
 * Checks for acknowledgements between the two polls. Without acknowledgement
 * figures (a broker with message rates disabled), any change of the ready or
 * unacknowledged count counts as progress, which can hide a stall of a queue
 * whose publishers keep adding messages.
 */
function hasAckedSince(reading: UnackedReading, previous: UnackedHistory | undefined): boolean {
  if (previous === undefined) return false;
  if (reading.ackTotal !== undefined && previous.ackTotal !== undefined) {
    // A smaller total means the broker reset the queue's statistics, so nothing is known about the interval.
    return reading.ackTotal !== previous.ackTotal;
  }
  if (reading.ackPerSecond !== undefined) return false;
  return reading.unacknowledged !== previous.unacknowledged || reading.depth !== previous.depth;
}

/**
 * Checks whether unacknowledged messages left without an acknowledgement
 * (rejected or requeued) since the previous poll. Those still
 * unacknowledged may then be new deliveries, so their wait starts now.
 */
function hasReplacedUnacked(reading: UnackedReading, previous: UnackedHistory): boolean {
  if (reading.unacknowledged < previous.unacknowledged) return true;
  if (reading.deliveredTotal === undefined || previous.deliveredTotal === undefined) return false;
  const delivered = reading.deliveredTotal - previous.deliveredTotal;
  return delivered < 0 || delivered > reading.unacknowledged - previous.unacknowledged;
}
