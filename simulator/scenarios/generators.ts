import { CANONICAL_WORKFLOWS } from '../../config/canonical-workflows.js';
import { parseDurationMs } from '../../config/duration.js';
import { DEMO_PLANTS } from '../tunables.js';
import { simulateQueue, type QueueBaseline, type QueueConditions } from './queue-model.js';
import { SeededRandom } from './random.js';
import { SCENARIO_KINDS, type ScenarioKind, type ScenarioOptions, type ScenarioRun, type ScenarioTarget } from './types.js';

export const DEFAULT_SCENARIO_START = new Date('2026-01-05T00:00:00.000Z');
export const DEFAULT_SCENARIO_MINUTES = 150;

/** Integration that carries each workflow in the demo network. */
export const SCENARIO_WORKFLOW_INTEGRATIONS: Readonly<Record<string, string>> = {
  production_order_release: 'odoo-mes',
  material_consumption: 'odoo-mes',
  work_order_completion: 'odoo-mes',
  quality_hold: 'odoo-qms',
  stock_move: 'odoo-wms',
  shipment_milestone: 'odoo-wms',
  supplier_confirmation: 'odoo-supplier-portal',
};

/** How one scenario disturbs the baseline, drawn from the run's seed. */
interface ScenarioPlan {
  workflow: string;
  description: string;
  conditionsAt: (minute: number) => QueueConditions;
  /** Default: far in the future, drawn from the seed. */
  credentialExpiresAtMinute?: number;
}

interface PlanContext {
  random: SeededRandom;
  onset: number;
  baseline: QueueBaseline;
  baseConsumers: number;
  /** Processing capacity as a multiple of the normal inflow. */
  headroom: number;
  injected: boolean;
}

/** Workflows each scenario may hit, chosen so the run reaches its outcome within the default duration. */
const SCENARIO_WORKFLOWS: Readonly<Record<ScenarioKind, readonly string[]>> = {
  partner_slowdown: ['quality_hold', 'stock_move', 'shipment_milestone', 'supplier_confirmation'],
  consumer_crash: ['quality_hold', 'material_consumption', 'stock_move', 'work_order_completion'],
  shift_change_burst: ['material_consumption', 'stock_move', 'work_order_completion'],
  month_end_batch: ['shipment_milestone', 'supplier_confirmation'],
  plant_network_outage: ['production_order_release', 'material_consumption', 'work_order_completion'],
  expiring_credentials: ['quality_hold', 'shipment_milestone', 'supplier_confirmation'],
  dead_letter_leak: ['quality_hold', 'stock_move', 'shipment_milestone', 'material_consumption'],
};

const PLANNERS: Readonly<Record<ScenarioKind, (context: PlanContext) => ScenarioPlan>> = {
  partner_slowdown: planPartnerSlowdown,
  consumer_crash: planConsumerCrash,
  shift_change_burst: planShiftChangeBurst,
  month_end_batch: planMonthEndBatch,
  plant_network_outage: planPlantNetworkOutage,
  expiring_credentials: planExpiringCredentials,
  dead_letter_leak: planDeadLetterLeak,
};

/**
 * Generates one deterministic run of a scenario: minute-by-minute indicators
 * of the disturbed integration and the ground truth, the first minute whose
 * lag reached the workflow's objective. The same kind and seed always give
 * the same run.
 */
export function generateScenario(kind: ScenarioKind, options: ScenarioOptions): ScenarioRun {
  if (!SCENARIO_KINDS.includes(kind)) {
    throw new RangeError(`invalid scenario "${String(kind)}": expected one of ${SCENARIO_KINDS.join(', ')}`);
  }
  if (!Number.isInteger(options.seed)) {
    throw new RangeError(`invalid scenario seed ${options.seed}: expected an integer`);
  }
  // One stream per kind and seed, so adding a scenario never changes the runs of another.
  const random = new SeededRandom(options.seed * 31 + SCENARIO_KINDS.indexOf(kind) * 1_000_003);
  const startedAt = options.startedAt ?? DEFAULT_SCENARIO_START;
  const durationMinutes = options.durationMinutes ?? DEFAULT_SCENARIO_MINUTES;
  const onset = options.onsetMinute ?? random.integer(30, 50);
  // The plant is drawn even when given, so choosing one leaves the rest of the run unchanged.
  const drawnPlant = random.pick(DEMO_PLANTS);
  const plant = options.plant ?? drawnPlant;

  const baseConsumers = random.integer(3, 5);
  const headroom = random.between(2.0, 2.6);
  const inflowPerMinute = random.between(12, 40);
  const baseline: QueueBaseline = {
    inflowPerMinute,
    perConsumerPerMinute: (inflowPerMinute * headroom) / baseConsumers,
    partnerLatencyMs: random.between(80, 250),
    maxAttempts: random.integer(3, 5),
  };
  const plan = PLANNERS[kind]({ random, onset, baseline, baseConsumers, headroom, injected: options.injected ?? false });
  const recovery = options.recoveryMinute ?? Number.POSITIVE_INFINITY;
  const conditionsAt = (minute: number) => (minute >= recovery ? normalConditions(baseConsumers) : plan.conditionsAt(minute));
  const credentialExpiresAtMinute = plan.credentialExpiresAtMinute ?? random.between(20, 300) * 1440;

  const target = describeTarget(plan.workflow, plant);
  const noise = options.noiseSeed === undefined ? random : new SeededRandom(options.noiseSeed * 31 + 17);
  const minutes = simulateQueue({
    random: noise,
    startedAt,
    durationMinutes,
    baseline,
    conditionsAt,
    credentialDaysLeftAt: (minute) => (credentialExpiresAtMinute - minute) / 1440,
  });
  const breach = minutes.find((minute) => minute.lagSeconds >= target.objectiveSeconds);
  return {
    kind,
    seed: options.seed,
    target,
    startedAt,
    onsetAt: new Date(startedAt.getTime() + onset * 60_000),
    breachAt: breach?.at ?? null,
    description: plan.description,
    minutes,
  };
}

/** Returns the integration and objective of a workflow of the demo network. */
export function describeTarget(workflow: string, plant: string): ScenarioTarget {
  const definition = CANONICAL_WORKFLOWS.find((candidate) => candidate.name === workflow);
  const integration = SCENARIO_WORKFLOW_INTEGRATIONS[workflow];
  if (!definition?.objective || integration === undefined) {
    throw new RangeError(`invalid scenario workflow "${workflow}": expected a demo workflow with an objective`);
  }
  return { integration, workflow, plant, objectiveSeconds: parseDurationMs(definition.objective.within) / 1000 };
}

function normalConditions(consumers: number): QueueConditions {
  return {
    inflowFactor: 1,
    consumers,
    hungConsumers: 0,
    latencyFactor: 1,
    failShare: 0.002,
    poisonShare: 0,
    stuck: 0,
    extraFailures: 0,
    partnerReachable: true,
    partnerStatusCode: 200,
  };
}

/**
 * Plans a partner whose response time climbs steadily. Consumers wait on it,
 * so the drain rate falls below the inflow. An injected slowdown starts half
 * way up.
 */
function planPartnerSlowdown({ random, onset, baseConsumers, headroom, injected }: PlanContext): ScenarioPlan {
  const workflow = random.pick(SCENARIO_WORKFLOWS.partner_slowdown);
  const peak = random.between(headroom * 1.6, headroom * 2.5);
  const rampMinutes = random.between(12, 25);
  const start = injected ? 0.5 : 0;
  return {
    workflow,
    description: injected
      ? `partner response time jumps ${(1 + (peak - 1) * start).toFixed(1)}x at minute ${onset}, then rises to ${peak.toFixed(1)}x over ${rampMinutes.toFixed(0)} min`
      : `partner response time rises ${peak.toFixed(1)}x over ${rampMinutes.toFixed(0)} min from minute ${onset}`,
    conditionsAt: (minute) => {
      const conditions = normalConditions(baseConsumers);
      if (minute < onset) return conditions;
      const climbed = start + (1 - start) * Math.min(1, (minute - onset) / rampMinutes);
      const latencyFactor = 1 + (peak - 1) * climbed;
      return { ...conditions, latencyFactor, failShare: Math.min(0.3, 0.03 * (latencyFactor - 1)) };
    },
  };
}

/** Consumers hang and crash one after another (a crash loop after a bad deploy) until none is left. */
function planConsumerCrash({ random, onset, baseConsumers }: PlanContext): ScenarioPlan {
  const workflow = random.pick(SCENARIO_WORKFLOWS.consumer_crash);
  const prefetch = random.integer(2, 10);
  const crashes: number[] = [];
  let at = onset;
  for (let index = 0; index < baseConsumers; index += 1) {
    crashes.push(at);
    at += random.between(2, 5);
  }
  const hangMinutes = random.between(1, 2);
  return {
    workflow,
    description: `${baseConsumers} consumers crash one by one from minute ${onset}, each hanging ${hangMinutes.toFixed(1)} min first`,
    conditionsAt: (minute) => {
      const crashed = crashes.filter((crashAt) => crashAt <= minute).length;
      const hanging = crashes.filter((crashAt) => crashAt - hangMinutes <= minute && minute < crashAt).length;
      const conditions = normalConditions(baseConsumers - crashed);
      // A hung consumer keeps its prefetched messages and processes nothing, while a crash returns them for redelivery.
      const justCrashed = crashes.some((crashAt) => crashAt <= minute && minute < crashAt + 1 / 6);
      return {
        ...conditions,
        hungConsumers: hanging,
        stuck: hanging * prefetch,
        extraFailures: justCrashed ? prefetch : 0,
      };
    },
  };
}

/** A shift change multiplies the inflow for a few minutes; planned extra consumers absorb it. */
function planShiftChangeBurst({ random, onset, baseConsumers }: PlanContext): ScenarioPlan {
  const workflow = random.pick(SCENARIO_WORKFLOWS.shift_change_burst);
  const factor = random.between(2.5, 3.2);
  const burstMinutes = random.between(6, 10);
  const scaleDelay = random.between(1, 2);
  return {
    workflow,
    description: `inflow rises ${factor.toFixed(1)}x for ${burstMinutes.toFixed(0)} min at minute ${onset}, 2 extra consumers after ${scaleDelay.toFixed(1)} min`,
    conditionsAt: (minute) => {
      const conditions = normalConditions(baseConsumers);
      const since = minute - onset;
      if (since < 0 || since > burstMinutes + 8) return conditions;
      const inBurst = since <= burstMinutes;
      const extra = since >= scaleDelay ? 2 : 0;
      return { ...conditions, inflowFactor: inBurst ? factor : 1, consumers: baseConsumers + extra };
    },
  };
}

/** Month-end closing dumps a batch of shipments or confirmations; the consumers scale out and work it off. */
function planMonthEndBatch({ random, onset, baseConsumers }: PlanContext): ScenarioPlan {
  const workflow = random.pick(SCENARIO_WORKFLOWS.month_end_batch);
  const factor = random.between(4, 7);
  const batchMinutes = random.between(15, 25);
  const scaleDelay = random.between(3, 5);
  const scaledConsumers = Math.ceil(baseConsumers * random.between(3, 3.8));
  return {
    workflow,
    description: `month-end batch: inflow ${factor.toFixed(1)}x for ${batchMinutes.toFixed(0)} min from minute ${onset}, ${scaledConsumers} consumers after ${scaleDelay.toFixed(1)} min`,
    conditionsAt: (minute) => {
      const conditions = normalConditions(baseConsumers);
      const since = minute - onset;
      if (since < 0 || since > batchMinutes + 30) return conditions;
      return {
        ...conditions,
        inflowFactor: since <= batchMinutes ? factor : 1,
        consumers: since >= scaleDelay ? scaledConsumers : baseConsumers,
      };
    },
  };
}

/** One plant's link degrades with growing packet loss and flapping, then drops entirely. */
function planPlantNetworkOutage({ random, onset, baseConsumers }: PlanContext): ScenarioPlan {
  const workflow = random.pick(SCENARIO_WORKFLOWS.plant_network_outage);
  const rampMinutes = random.between(10, 20);
  const peakLoss = random.between(0.35, 0.6);
  return {
    workflow,
    description: `plant link loss rises to ${(peakLoss * 100).toFixed(0)}% over ${rampMinutes.toFixed(0)} min from minute ${onset}, then the link drops`,
    conditionsAt: (minute) => {
      const conditions = normalConditions(baseConsumers);
      const since = minute - onset;
      if (since < 0) return conditions;
      const loss = since >= rampMinutes ? 1 : Math.min(0.95, peakLoss * (since / rampMinutes) * random.between(0.5, 1.5));
      return {
        ...conditions,
        failShare: Math.max(conditions.failShare, loss),
        latencyFactor: 1 + 3 * loss,
        partnerReachable: random.next() >= loss,
      };
    },
  };
}

/** The integration's client credential expires; every call is rejected with 401 from then on. */
function planExpiringCredentials({ random, onset, baseConsumers }: PlanContext): ScenarioPlan {
  const workflow = random.pick(SCENARIO_WORKFLOWS.expiring_credentials);
  const expiresAt = onset + random.between(10, 25);
  const refreshFailures = random.next() < 0.5;
  return {
    workflow,
    description: `client credential expires at minute ${expiresAt.toFixed(0)}${refreshFailures ? ', refreshes fail in the last 10 min before' : ''}`,
    credentialExpiresAtMinute: expiresAt,
    conditionsAt: (minute) => {
      const conditions = normalConditions(baseConsumers);
      if (minute >= expiresAt) return { ...conditions, failShare: 1, partnerStatusCode: 401 };
      if (refreshFailures && minute >= expiresAt - 10) return { ...conditions, extraFailures: 1 / 6 };
      return conditions;
    },
  };
}

/** A growing share of messages cannot be processed; their retries eat the capacity and the dead-letter queue fills. */
function planDeadLetterLeak({ random, onset, baseConsumers }: PlanContext): ScenarioPlan {
  const workflow = random.pick(SCENARIO_WORKFLOWS.dead_letter_leak);
  const slopePerMinute = random.between(0.01, 0.02);
  return {
    workflow,
    description: `poisoned messages grow ${(slopePerMinute * 100).toFixed(1)} points a minute from minute ${onset}`,
    conditionsAt: (minute) => {
      const conditions = normalConditions(baseConsumers);
      if (minute < onset) return conditions;
      return { ...conditions, poisonShare: Math.min(0.9, slopePerMinute * (minute - onset)) };
    },
  };
}
