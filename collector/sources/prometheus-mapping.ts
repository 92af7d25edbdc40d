import { z } from 'zod';
import { isCounterSample, type Exposition, type ExpositionSample } from './prometheus-text.js';

/**
 * Sample fields a metric can fill. `headTimestamp` is the time the oldest
 * waiting item was stamped, in seconds since the epoch, and the lag is the
 * scrape time minus it. Use `scale: 0.001` for a stamp in milliseconds.
 */
export const PROMETHEUS_MAPPED_FIELDS = [
  'depth',
  'lagSeconds',
  'inFlight',
  'consumers',
  'inflowPerSecond',
  'outflowPerSecond',
  'headTimestamp',
] as const;

export type PrometheusMappedField = (typeof PROMETHEUS_MAPPED_FIELDS)[number];

/** Default aggregation of the series of one entity: max for lag, min (oldest) for head stamps, else sum. */
const DEFAULT_AGGREGATES: Record<PrometheusMappedField, 'sum' | 'max' | 'min'> = {
  depth: 'sum',
  lagSeconds: 'max',
  inFlight: 'sum',
  consumers: 'sum',
  inflowPerSecond: 'sum',
  outflowPerSecond: 'sum',
  headTimestamp: 'min',
};

const labelValuesSchema = z.record(
  z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, 'expected a label name'),
  z.string(),
);

/** One metric mapped to one sample field. */
export const prometheusMappingSchema = z.strictObject({
  /** Name on the sample line, such as `kafka_consumergroup_lag` or `foo_seconds_count`. */
  metric: z.string().regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/, 'expected a Prometheus metric name'),
  /** Labels whose values, joined by "/", name the entity; series lacking one are skipped. */
  entityLabels: z
    .array(z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, 'expected a label name'))
    .min(1, 'expected at least one label, such as "queue"'),
  field: z.enum(PROMETHEUS_MAPPED_FIELDS),
  /** Factor applied to each value, such as 0.001 for milliseconds to seconds. */
  scale: z.number().finite().refine((value) => value !== 0, 'expected a non-zero factor').optional(),
  /** Aggregation of the series of one entity; defaults to max for lagSeconds, min for headTimestamp, else sum. */
  aggregate: z.enum(['sum', 'max', 'min']).optional(),
  /** Read the per-second rate between scrapes; defaults to true for counters and `_total` names. */
  rate: z.boolean().optional(),
  /** Exact label values a series must have, such as `{ vhost: "/" }`. */
  match: labelValuesSchema.optional(),
});

export type PrometheusMappingInput = z.input<typeof prometheusMappingSchema>;
export type PrometheusMapping = z.output<typeof prometheusMappingSchema>;
export { labelValuesSchema as prometheusLabelValuesSchema };

/** A counter value kept for the rate at the next scrape. */
export interface CounterReading {
  value: number;
  atMs: number;
}

/** The mapped values of one entity in one scrape. */
export interface EntityReading {
  entity: string;
  /** Entity label names and values. */
  labels: Record<string, string>;
  /** Aggregated values; a field is absent when no series gave a finite value. */
  fields: Partial<Record<PrometheusMappedField, number>>;
}

/** Result of applying the mappings to one scrape. */
export interface MappingResult {
  entities: Map<string, EntityReading>;
  /** Counter values to pass to the next scrape. */
  counters: Map<string, CounterReading>;
  /** Mapped metric names that had at least one series. */
  foundMetrics: Set<string>;
  /** Mapped metrics whose series lacked an entity label, as `metric: label`. */
  missingLabels: Set<string>;
}

/**
 * Applies `mappings` to a parsed scrape. Counters give a per-second rate
 * against `previousCounters`. A value below the previous one means the
 * process restarted, so the whole new value counts as the increase. A
 * series seen for the first time gives no rate yet.
 */
export function applyMappings(
  exposition: Exposition,
  mappings: readonly PrometheusMapping[],
  sourceMatch: Record<string, string> | undefined,
  scrapedAtMs: number,
  previousCounters: ReadonlyMap<string, CounterReading>,
): MappingResult {
  const result: MappingResult = {
    entities: new Map(),
    counters: new Map(),
    foundMetrics: new Set(),
    missingLabels: new Set(),
  };
  const byName = groupByName(exposition.samples);
  for (const mapping of mappings) {
    const samples = byName.get(mapping.metric);
    if (samples === undefined) continue;
    result.foundMetrics.add(mapping.metric);
    const aggregate = mapping.aggregate ?? DEFAULT_AGGREGATES[mapping.field];
    for (const sample of samples) {
      if (!matchesLabels(sample.labels, sourceMatch) || !matchesLabels(sample.labels, mapping.match)) continue;
      const missing = mapping.entityLabels.find((label) => sample.labels[label] === undefined);
      if (missing !== undefined) {
        result.missingLabels.add(`${mapping.metric}: ${missing}`);
        continue;
      }
      const reading = findEntity(result.entities, mapping.entityLabels, sample.labels);
      const value = readValue(mapping, sample, scrapedAtMs, previousCounters, result.counters);
      if (value === undefined || !Number.isFinite(value)) continue;
      combine(reading.fields, mapping.field, value, aggregate);
    }
  }
  return result;
}

function groupByName(samples: readonly ExpositionSample[]): Map<string, ExpositionSample[]> {
  const byName = new Map<string, ExpositionSample[]>();
  for (const sample of samples) {
    const list = byName.get(sample.name);
    if (list === undefined) byName.set(sample.name, [sample]);
    else list.push(sample);
  }
  return byName;
}

function matchesLabels(labels: Record<string, string>, match: Record<string, string> | undefined): boolean {
  if (match === undefined) return true;
  return Object.entries(match).every(([name, value]) => labels[name] === value);
}

function findEntity(
  entities: Map<string, EntityReading>,
  entityLabels: readonly string[],
  labels: Record<string, string>,
): EntityReading {
  const values = entityLabels.map((label) => labels[label] ?? '');
  const entity = values.join('/');
  let reading = entities.get(entity);
  if (reading === undefined) {
    reading = { entity, labels: Object.fromEntries(entityLabels.map((label, index) => [label, values[index] ?? ''])), fields: {} };
    entities.set(entity, reading);
  }
  return reading;
}

/** Returns the scaled value of a sample, or its rate for counters; undefined when no rate is known yet. */
function readValue(
  mapping: PrometheusMapping,
  sample: ExpositionSample,
  scrapedAtMs: number,
  previousCounters: ReadonlyMap<string, CounterReading>,
  counters: Map<string, CounterReading>,
): number | undefined {
  const scale = mapping.scale ?? 1;
  if (!(mapping.rate ?? isCounterSample(sample))) return sample.value * scale;
  if (!Number.isFinite(sample.value)) return undefined;

  const key = seriesKey(sample);
  const atMs = sample.timestampMs ?? scrapedAtMs;
  counters.set(key, { value: sample.value, atMs });
  const previous = previousCounters.get(key);
  if (previous === undefined || atMs <= previous.atMs) return undefined;
  const increase = sample.value >= previous.value ? sample.value - previous.value : sample.value;
  return (increase * scale * 1000) / (atMs - previous.atMs);
}

function seriesKey(sample: ExpositionSample): string {
  const labels = Object.keys(sample.labels)
    .sort()
    .map((name) => `${name}=${JSON.stringify(sample.labels[name])}`);
  return `${sample.name}{${labels.join(',')}}`;
}

function combine(
  fields: Partial<Record<PrometheusMappedField, number>>,
  field: PrometheusMappedField,
  value: number,
  aggregate: 'sum' | 'max' | 'min',
): void {
  const current = fields[field];
  if (current === undefined) {
    fields[field] = value;
  } else if (aggregate === 'sum') {
    fields[field] = current + value;
  } else if (aggregate === 'max') {
    fields[field] = Math.max(current, value);
  } else {
    fields[field] = Math.min(current, value);
  }
}
