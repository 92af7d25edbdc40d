import type { Logger } from 'pino';
import { z } from 'zod';
import {
  baseSourceFields,
  buildSample,
  describeError,
  parseSourceConfig,
  redactUrl,
  resolveIntervalMs,
  type SampleOrigin,
} from './common.js';
import { addCondition, clampLagSeconds } from './lag-conditions.js';
import {
  applyMappings,
  prometheusLabelValuesSchema,
  prometheusMappingSchema,
  type CounterReading,
  type EntityReading,
  type PrometheusMapping,
} from './prometheus-mapping.js';
import { PROMETHEUS_PRESET_NAMES, PROMETHEUS_PRESETS } from './prometheus-presets.js';
import { parseExposition } from './prometheus-text.js';
import { estimateQueueLag, type QueueLagHistory } from './queue-lag-estimate.js';
import type { LagSample, LagSource, PollResult } from './types.js';

export const PROMETHEUS_SOURCE_KIND = 'prometheus';
export const DEFAULT_PROMETHEUS_POLL_INTERVAL_MS = 15_000;
export const DEFAULT_PROMETHEUS_TIMEOUT_MS = 5_000;
/** How long an entity that left the scrape keeps being reported as disappeared, in milliseconds. */
export const DEFAULT_DISAPPEARED_RETENTION_MS = 24 * 60 * 60 * 1000;
/** Largest scrape body read, in bytes; a larger one fails the scrape. */
export const MAX_SCRAPE_BYTES = 32 * 1024 * 1024;

/** Entity of the sample a source reports while it has no entity to report. */
const WHOLE_SOURCE_ENTITY = '*';
const ACCEPT_HEADER = 'text/plain;version=0.0.4;q=1,*/*;q=0.1';

/** Config of one Prometheus text exposition endpoint watched as a lag source. */
export const prometheusSourceConfigSchema = z
  .strictObject({
    kind: z.literal(PROMETHEUS_SOURCE_KIND),
    ...baseSourceFields,
    /** Scrape URL, such as `http://rabbit:15692/metrics/per-object`. */
    url: z.string().regex(/^https?:\/\//, 'expected an http:// or https:// URL'),
    /** Extra request headers, such as `Authorization`. */
    headers: z.record(z.string().min(1), z.string()).optional(),
    /** Built-in mappings for a known exporter; `mappings` are added to them. */
    preset: z.enum(PROMETHEUS_PRESET_NAMES).optional(),
    mappings: z.array(prometheusMappingSchema).optional(),
    /** Exact label values every mapped series must have, such as `{ vhost: "/" }`. */
    match: prometheusLabelValuesSchema.optional(),
    /** How long an entity that left the scrape is reported as disappeared before it is forgotten, in milliseconds. */
    disappearedRetentionMs: z.number().int().positive().default(DEFAULT_DISAPPEARED_RETENTION_MS),
  })
  .refine((config) => config.preset !== undefined || (config.mappings?.length ?? 0) > 0, {
    message: `expected "preset" (${PROMETHEUS_PRESET_NAMES.join(' or ')}) or "mappings" (a list of metric mappings)`,
    path: ['mappings'],
  });

export type PrometheusSourceConfigInput = z.input<typeof prometheusSourceConfigSchema>;
export type PrometheusSourceConfig = z.output<typeof prometheusSourceConfigSchema>;

/** Services a source uses; all optional. */
export interface PrometheusSourceDeps {
  logger?: Logger;
}

/** Creates a Prometheus scrape source; throws `COLLECTOR_ERR_SOURCE_CONFIG` on an invalid config. */
export function createPrometheusSource(config: PrometheusSourceConfigInput, deps: PrometheusSourceDeps = {}): LagSource {
  return new PrometheusSource(parseSourceConfig(prometheusSourceConfigSchema, config, PROMETHEUS_SOURCE_KIND), deps);
}

interface KnownEntity {
  labels: Record<string, string>;
  lastSeenMs: number;
}

/**
 * Scrapes a Prometheus text exposition endpoint and maps metric families to
 * lag samples, one per entity (a queue, a consumer group and topic). An
 * entity that was in earlier scrapes and is missing from a successful one is
 * reported `source_down` with "series disappeared" until it comes back or
 * `disappearedRetentionMs` passes, because a vanished series is no proof of
 * health.
 */
export class PrometheusSource implements LagSource {
  readonly name: string;
  readonly kind = PROMETHEUS_SOURCE_KIND;
  readonly intervalMs: number;
  readonly integration: string;
  readonly workflow: string;

  readonly #config: PrometheusSourceConfig;
  readonly #origin: SampleOrigin;
  readonly #mappings: PrometheusMapping[];
  readonly #timeoutMs: number;
  readonly #known = new Map<string, KnownEntity>();
  readonly #history = new Map<string, QueueLagHistory>();
  #counters: ReadonlyMap<string, CounterReading> = new Map();

  constructor(config: PrometheusSourceConfig, _deps: PrometheusSourceDeps = {}) {
    this.#config = config;
    this.name = config.name;
    this.integration = config.integration;
    this.workflow = config.workflow ?? '';
    this.intervalMs = resolveIntervalMs(config, DEFAULT_PROMETHEUS_POLL_INTERVAL_MS);
    this.#timeoutMs = config.timeoutMs ?? DEFAULT_PROMETHEUS_TIMEOUT_MS;
    this.#origin = { integration: config.integration, source: config.name, sourceKind: PROMETHEUS_SOURCE_KIND };
    const preset = config.preset === undefined ? [] : PROMETHEUS_PRESETS[config.preset];
    this.#mappings = [...preset.map((mapping) => prometheusMappingSchema.parse(mapping)), ...(config.mappings ?? [])];
  }

  async poll(now: Date): Promise<PollResult> {
    let text: string;
    try {
      text = await this.#scrape();
    } catch (error) {
      const detail = `cannot scrape ${redactUrl(this.#config.url)}: ${describeError(error)}`;
      return { samples: this.#downSamples(now, detail), failures: [] };
    }

    let result: ReturnType<typeof applyMappings>;
    try {
      result = applyMappings(parseExposition(text), this.#mappings, this.#config.match, now.getTime(), this.#counters);
    } catch (error) {
      const detail = `invalid exposition from ${redactUrl(this.#config.url)}: ${describeError(error)}`;
      return { samples: this.#downSamples(now, detail), failures: [] };
    }
    this.#counters = result.counters;

    const samples: LagSample[] = [];
    for (const reading of result.entities.values()) {
      this.#known.set(reading.entity, { labels: reading.labels, lastSeenMs: now.getTime() });
      samples.push(this.#entitySample(now, reading));
    }
    samples.push(...this.#disappearedSamples(now, result.entities));
    if (samples.length === 0) {
      samples.push(this.#emptyScrapeSample(now, result.foundMetrics, result.missingLabels));
    }
    return { samples, failures: [] };
  }

  async close(): Promise<void> {
    // Each scrape opens and ends its own request, so nothing stays open.
  }

  async #scrape(): Promise<string> {
    const response = await fetch(this.#config.url, {
      headers: { accept: ACCEPT_HEADER, ...this.#config.headers },
      signal: AbortSignal.timeout(this.#timeoutMs),
      redirect: 'follow',
    });
    if (!response.ok) {
      await response.body?.cancel();
      throw new Error(`HTTP ${response.status} ${response.statusText}`.trim());
    }
    return readLimitedText(response, MAX_SCRAPE_BYTES);
  }

  #entitySample(now: Date, reading: EntityReading): LagSample {
    const sample = buildSample(this.#origin, now, reading.entity, this.workflow, 'ok');
    const { fields } = reading;
    if (fields.depth !== undefined) sample.depth = fields.depth;
    if (fields.inFlight !== undefined) sample.inFlight = fields.inFlight;
    if (fields.consumers !== undefined) sample.consumers = fields.consumers;
    if (fields.inflowPerSecond !== undefined) sample.inflowPerSecond = fields.inflowPerSecond;
    if (fields.outflowPerSecond !== undefined) sample.outflowPerSecond = fields.outflowPerSecond;
    const attributes: Record<string, string> = { ...reading.labels };

    let rawLagSeconds: number | undefined;
    if (fields.lagSeconds !== undefined) {
      rawLagSeconds = fields.lagSeconds;
    } else if (fields.depth === 0) {
      rawLagSeconds = 0;
    } else if (fields.headTimestamp !== undefined) {
      rawLagSeconds = now.getTime() / 1000 - fields.headTimestamp;
    }

    if (rawLagSeconds !== undefined) {
      const clamped = clampLagSeconds(rawLagSeconds);
      sample.lagSeconds = clamped.lagSeconds;
      sample.lagEstimated = false;
      if (clamped.clockSkew) {
        attributes.clock_ahead = 'true';
        addCondition(sample, 'clock_skew');
      }
    } else if (fields.depth !== undefined && (fields.consumers !== undefined || fields.outflowPerSecond !== undefined)) {
      // Without a consumer count only the drain rate decides, so consumers count as attached.
      const estimate = estimateQueueLag(
        {
          observedAtMs: now.getTime(),
          depth: fields.depth,
          consumers: fields.consumers ?? 1,
          outflowPerSecond: fields.outflowPerSecond,
        },
        this.#history.get(reading.entity),
      );
      this.#history.set(reading.entity, estimate.history);
      if (estimate.lagSeconds !== undefined) sample.lagSeconds = estimate.lagSeconds;
      sample.lagEstimated = estimate.lagEstimated;
      if (estimate.reason !== undefined) sample.detail = estimate.reason;
    } else {
      sample.detail = 'no mapped metric gives the lag, the depth with a drain rate, or a head timestamp';
    }
    if (fields.consumers === 0 && fields.depth !== undefined && fields.depth > 0) {
      attributes.no_consumers = 'true';
      addCondition(sample, 'no_consumers');
    }
    sample.attributes = attributes;
    return sample;
  }

  #disappearedSamples(now: Date, present: ReadonlyMap<string, EntityReading>): LagSample[] {
    const samples: LagSample[] = [];
    for (const [entity, known] of this.#known) {
      if (present.has(entity)) continue;
      if (now.getTime() - known.lastSeenMs > this.#config.disappearedRetentionMs) {
        this.#known.delete(entity);
        this.#history.delete(entity);
        continue;
      }
      const sample = buildSample(this.#origin, now, entity, this.workflow, 'source_down');
      sample.detail = `series disappeared: not in the scrape since ${new Date(known.lastSeenMs).toISOString()}`;
      sample.attributes = { ...known.labels };
      sample.conditions = ['series_disappeared'];
      samples.push(sample);
    }
    return samples;
  }

  /** Builds the sample of a scrape that gave no entity; the cause decides the detail, never a zero. */
  #emptyScrapeSample(now: Date, foundMetrics: ReadonlySet<string>, missingLabels: ReadonlySet<string>): LagSample {
    const sample = buildSample(this.#origin, now, WHOLE_SOURCE_ENTITY, this.workflow, 'source_down');
    if (missingLabels.size > 0) {
      sample.detail =
        `mapped series lack their entity labels (${[...missingLabels].join(', ')}); ` +
        'the endpoint may aggregate them, as RabbitMQ does on /metrics unless per-object metrics are enabled';
    } else if (foundMetrics.size === 0) {
      const names = [...new Set(this.#mappings.map((mapping) => mapping.metric))];
      sample.detail = `none of the mapped metrics is in the scrape: ${names.join(', ')}`;
    } else {
      sample.detail = 'no mapped series matched the label filters';
    }
    return sample;
  }

  #downSamples(now: Date, detail: string): LagSample[] {
    const entities = this.#known.size > 0 ? [...this.#known] : [[WHOLE_SOURCE_ENTITY, undefined] as const];
    return entities.map(([entity, known]) => {
      const sample = buildSample(this.#origin, now, entity, this.workflow, 'source_down');
      sample.detail = detail;
      if (known !== undefined) sample.attributes = { ...known.labels };
      return sample;
    });
  }
}

/** Reads a response body as UTF-8 text, failing once it passes `maxBytes`. */
async function readLimitedText(response: Response, maxBytes: number): Promise<string> {
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body?.cancel();
    throw new Error(`response of ${declared} bytes exceeds the ${maxBytes}-byte limit`);
  }
  if (response.body === null) return '';
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of response.body) {
    total += chunk.byteLength;
    if (total > maxBytes) throw new Error(`response exceeds the ${maxBytes}-byte limit`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
