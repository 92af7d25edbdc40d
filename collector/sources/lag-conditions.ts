import type { LagCondition, LagSample } from './types.js';

/** How long an entity that stopped being reported keeps getting `series_disappeared` samples, in milliseconds. */
export const DEFAULT_SERIES_RETENTION_MS = 24 * 60 * 60 * 1000;

/**
 * Entity of a sample that stands for a whole source rather than one of its
 * queues or tables. It is never tracked as a series, because sources report it
 * only until they see their first real entity.
 */
export const WHOLE_SOURCE_ENTITY = '*';

/** Adds `condition` to the sample's conditions unless it is already there. */
export function addCondition(sample: LagSample, condition: LagCondition): void {
  if (sample.conditions === undefined) {
    sample.conditions = [condition];
  } else if (!sample.conditions.includes(condition)) {
    sample.conditions.push(condition);
  }
}

/**
 * Clamps a lag at zero. A negative lag means the clock that stamped the item
 * runs ahead of ours, which the caller flags as `clock_skew`.
 */
export function clampLagSeconds(lagSeconds: number): { lagSeconds: number; clockSkew: boolean } {
  if (lagSeconds < 0) return { lagSeconds: 0, clockSkew: true };
  return { lagSeconds, clockSkew: false };
}

/**
 * Derives the conditions that every source shares from a sample's fields, so
 * each source gets them whether or not it sets them itself:
 * - a negative `lagSeconds` is clamped to zero and flagged `clock_skew`, and so
 *   is a sample whose source clamped it already and set the `clock_ahead` attribute;
 * - `consumers` of zero with `depth` above zero is flagged `no_consumers`.
 * An idle entity (depth 0, no consumers) gets no condition.
 */
export function applySampleConditions(sample: LagSample): void {
  if (sample.lagSeconds !== undefined) {
    const clamped = clampLagSeconds(sample.lagSeconds);
    sample.lagSeconds = clamped.lagSeconds;
    if (clamped.clockSkew) addCondition(sample, 'clock_skew');
  }
  if (sample.attributes?.clock_ahead === 'true') addCondition(sample, 'clock_skew');
  if (sample.consumers === 0 && sample.depth !== undefined && sample.depth > 0) {
    addCondition(sample, 'no_consumers');
  }
}

/** Identity and last known fields of one entity a source has reported. */
interface KnownSeries {
  integration: string;
  workflow: string;
  /** Last time a poll that read the source returned this entity, in milliseconds since the epoch. */
  lastReportedAtMs: number;
  disappeared: boolean;
}

/** Changes in the tracked series after one poll that read the source. */
export interface SeriesChanges {
  /** Samples standing in for entities that the poll no longer returned. */
  samples: LagSample[];
  /** Entities missing for the first time. */
  disappeared: string[];
  /** Entities reported again after they had disappeared. */
  reappeared: string[];
  /** Entities missing for longer than the retention, which are no longer tracked. */
  expired: string[];
}

/**
 * Remembers the entities one source has reported, so that an entity that
 * stops being reported keeps a `source_down` series flagged
 * `series_disappeared` instead of silently ending, which dashboards would
 * read as healthy. An entity counts as a series once a poll reports it with
 * status `ok`, so placeholders that a source reports only while it is down
 * are not tracked.
 */
export class SeriesTracker {
  readonly #source: string;
  readonly #sourceKind: string;
  readonly #retentionMs: number;
  readonly #series = new Map<string, KnownSeries>();

  constructor(source: string, sourceKind: string, retentionMs = DEFAULT_SERIES_RETENTION_MS) {
    this.#source = source;
    this.#sourceKind = sourceKind;
    this.#retentionMs = retentionMs;
  }

  /** Number of entities tracked. */
  get size(): number {
    return this.#series.size;
  }

  /**
   * Records the samples of a poll that returned, and returns samples for the
   * tracked entities it left out. When `unreadable` is set the source
   * reported itself down, so those entities are down for the same reason
   * (`downDetail`) and not flagged as disappeared.
   */
  recordPoll(samples: readonly LagSample[], observedAt: Date, unreadable = false, downDetail = ''): SeriesChanges {
    const changes: SeriesChanges = { samples: [], disappeared: [], reappeared: [], expired: [] };
    const nowMs = observedAt.getTime();
    const reported = new Set<string>();
    for (const sample of samples) {
      if (sample.entity === WHOLE_SOURCE_ENTITY) continue;
      reported.add(sample.entity);
      const known = this.#series.get(sample.entity);
      if (known) {
        if (known.disappeared) changes.reappeared.push(sample.entity);
        known.disappeared = false;
        known.lastReportedAtMs = nowMs;
        known.integration = sample.integration;
        known.workflow = sample.workflow;
      } else if (sample.status === 'ok') {
        this.#series.set(sample.entity, {
          integration: sample.integration,
          workflow: sample.workflow,
          lastReportedAtMs: nowMs,
          disappeared: false,
        });
      }
    }

    for (const [entity, known] of this.#series) {
      if (reported.has(entity)) continue;
      if (unreadable) {
        changes.samples.push(this.#buildDownSample(entity, known, observedAt, downDetail));
        continue;
      }
      if (nowMs - known.lastReportedAtMs > this.#retentionMs) {
        this.#series.delete(entity);
        changes.expired.push(entity);
        continue;
      }
      if (!known.disappeared) changes.disappeared.push(entity);
      known.disappeared = true;
      const since = new Date(known.lastReportedAtMs).toISOString();
      const sample = this.#buildDownSample(entity, known, observedAt, `entity not reported by the source since ${since}`);
      sample.conditions = ['series_disappeared'];
      changes.samples.push(sample);
    }
    return changes;
  }

  /**
   * Returns a `source_down` sample with `detail` for every tracked entity,
   * for a poll that rejected or timed out. Tracked entities stay as they are.
   */
  buildUnreadSamples(observedAt: Date, detail: string): LagSample[] {
    return [...this.#series].map(([entity, known]) => this.#buildDownSample(entity, known, observedAt, detail));
  }

  #buildDownSample(entity: string, known: KnownSeries, observedAt: Date, detail: string): LagSample {
    return {
      observedAt,
      integration: known.integration,
      workflow: known.workflow,
      source: this.#source,
      sourceKind: this.#sourceKind,
      entity,
      status: 'source_down',
      detail,
    };
  }
}
