import type { SeededRandom } from './random.js';
import type { ScenarioMinute } from './types.js';

/** Seconds of simulated time per step of the queue model. */
export const TICK_SECONDS = 10;
const TICKS_PER_MINUTE = 60 / TICK_SECONDS;

/** What a scenario does to the integration at one point of simulated time. */
export interface QueueConditions {
  /** Arrival rate as a multiple of the normal rate. */
  inflowFactor: number;
  /** Consumers attached to the queue. */
  consumers: number;
  /** Attached consumers that hang and process nothing. */
  hungConsumers: number;
  /** Partner response time as a multiple of the normal one; each consumer's throughput divides by it. */
  latencyFactor: number;
  /** Share of processing attempts that fail (timeout, 401, connection reset) and are retried. */
  failShare: number;
  /** Share of arriving messages that can never be processed and end in the dead-letter queue after every retry. */
  poisonShare: number;
  /** Messages held by hung consumers. */
  stuck: number;
  /** Extra failed attempts in this tick that cost no capacity, such as failed credential refreshes. */
  extraFailures: number;
  /** False when the partner endpoint does not respond at all. */
  partnerReachable: boolean;
  /** HTTP status of the partner when it responds. */
  partnerStatusCode: number;
}

/** The normal shape of the integration before any disturbance. */
export interface QueueBaseline {
  /** Messages arriving per minute at an inflow factor of 1. */
  inflowPerMinute: number;
  /** Messages one consumer processes per minute at a latency factor of 1. */
  perConsumerPerMinute: number;
  /** Normal partner response time, in milliseconds. */
  partnerLatencyMs: number;
  /** Attempts a poisoned message gets before it is dead-lettered. */
  maxAttempts: number;
}

interface Cohort {
  arrivalSeconds: number;
  count: number;
}

/** Below this many waiting messages the queue counts as empty, because the model moves fractions of messages. */
const EMPTY_QUEUE_DEPTH = 0.5;

/**
 * Simulates a FIFO queue in steps of `TICK_SECONDS` and reports each minute.
 * Lag is the age of the oldest waiting message, as the collector's sources
 * report it, so a backlog shows up the way it would on a real queue.
 */
export function simulateQueue(options: {
  random: SeededRandom;
  startedAt: Date;
  durationMinutes: number;
  baseline: QueueBaseline;
  conditionsAt: (minute: number) => QueueConditions;
  credentialDaysLeftAt: (minute: number) => number;
}): ScenarioMinute[] {
  const { random, baseline } = options;
  const queue: Cohort[] = [];
  let depth = 0;
  let deadLetters = 0;
  const minutes: ScenarioMinute[] = [];

  for (let minute = 0; minute < options.durationMinutes; minute += 1) {
    let arrived = 0;
    let removed = 0;
    let failedAttempts = 0;
    let conditions = options.conditionsAt(minute);

    for (let tick = 0; tick < TICKS_PER_MINUTE; tick += 1) {
      const tickStart = minute * 60 + tick * TICK_SECONDS;
      conditions = options.conditionsAt(minute + tick / TICKS_PER_MINUTE);

      const arrivals = random.count((baseline.inflowPerMinute * conditions.inflowFactor) / TICKS_PER_MINUTE);
      if (arrivals > 0) {
        queue.push({ arrivalSeconds: tickStart + random.between(0, TICK_SECONDS), count: arrivals });
        depth += arrivals;
        arrived += arrivals;
      }

      const attempts = (Math.max(0, conditions.consumers - conditions.hungConsumers) * baseline.perConsumerPerMinute) / conditions.latencyFactor / TICKS_PER_MINUTE;
      const step = processMessages(queue, depth, attempts, conditions, baseline.maxAttempts);
      depth -= step.removed;
      removed += step.removed;
      deadLetters += step.deadLettered;
      failedAttempts += step.failedAttempts + conditions.extraFailures;
    }

    const endSeconds = (minute + 1) * 60;
    const head = queue[0];
    const lagSeconds =
      depth >= EMPTY_QUEUE_DEPTH && head !== undefined ? endSeconds - head.arrivalSeconds : random.between(0.3, 2.5);
    const latency = baseline.partnerLatencyMs * conditions.latencyFactor * Math.exp(random.normal(0, 0.08));
    minutes.push({
      at: new Date(options.startedAt.getTime() + endSeconds * 1000),
      minute,
      lagSeconds: round(lagSeconds, 1),
      depth: Math.round(depth),
      inFlight: Math.round(Math.min(depth, conditions.consumers * 2)),
      consumers: conditions.consumers,
      inflowPerSecond: round(arrived / 60, 3),
      outflowPerSecond: round(removed / 60, 3),
      stuck: Math.round(conditions.stuck),
      deadLetters: Math.round(deadLetters),
      failedAttempts: Math.round(failedAttempts),
      partnerLatencyMs: conditions.partnerReachable ? round(latency, 1) : 0,
      partnerStatusCode: conditions.partnerReachable ? conditions.partnerStatusCode : 0,
      credentialDaysLeft: round(options.credentialDaysLeftAt(minute + 1), 5),
    });
  }
  return minutes;
}

/**
 * Spends `attempts` on the head of the queue. Each good message costs
 * 1 / (1 - failShare) attempts because failed attempts are retried, and each
 * poisoned one costs `maxAttempts` attempts before it is dead-lettered.
 */
function processMessages(
  queue: Cohort[],
  depth: number,
  attempts: number,
  conditions: QueueConditions,
  maxAttempts: number,
): { removed: number; deadLettered: number; failedAttempts: number } {
  const poison = conditions.poisonShare;
  if (conditions.failShare >= 0.999) {
    // Every attempt fails, so nothing leaves the queue and every waiting message is retried.
    return { removed: 0, deadLettered: 0, failedAttempts: Math.min(depth, attempts) };
  }
  const attemptsPerMessage = (1 - poison) / (1 - conditions.failShare) + poison * maxAttempts;
  const removed = Math.min(depth, attempts / attemptsPerMessage);
  const failedPerMessage = ((1 - poison) * conditions.failShare) / (1 - conditions.failShare) + poison * maxAttempts;

  let remaining = removed;
  while (remaining > 0 && queue.length > 0) {
    const head = queue[0]!;
    const taken = Math.min(head.count, remaining);
    head.count -= taken;
    remaining -= taken;
    if (head.count <= 1e-9) queue.shift();
  }
  return { removed, deadLettered: removed * poison, failedAttempts: removed * failedPerMessage };
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
