import type { Logger } from 'pino';
import { z } from 'zod';
import {
  baseSourceFields,
  buildSample,
  describeError,
  isQualifiedSqlName,
  parseSourceConfig,
  redactUrl,
  resolveIntervalMs,
  type SampleOrigin,
} from './common.js';
import { addCondition, clampLagSeconds } from './lag-conditions.js';
import { openOutboxReader, type OutboxGroupReading, type OutboxReader, type OutboxTableSpec } from './outbox-sql.js';
import type { LagSample, LagSource, PollResult } from './types.js';

export const OUTBOX_SOURCE_KIND = 'outbox';
export const DEFAULT_OUTBOX_POLL_INTERVAL_MS = 30_000;
export const DEFAULT_OUTBOX_TIMEOUT_MS = 10_000;

/** Entity of the sample a grouped source reports before it has seen any group. */
const WHOLE_TABLE_ENTITY = '*';
/** Entity of rows whose group column is NULL. */
export const NULL_GROUP_ENTITY = '(null)';

const SQL_COLUMN_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
const columnSchema = z
  .string()
  .regex(SQL_COLUMN_PATTERN, 'expected a column name made of letters, digits and underscores');
/** `UTC`, an offset such as `+02:00`, or an IANA zone name such as `Europe/Berlin`. */
const TIME_ZONE_PATTERN = /^(UTC|[+-](0\d|1[0-4]):[0-5]\d|[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+){0,2})$/;

/**
 * Config of one transactional outbox table in PostgreSQL, MariaDB or MySQL.
 *
 * A row is unpublished while `publishedAtColumn` is NULL, or, when
 * `statusColumn` is set, while its status is one of `unpublishedStatuses`.
 * Ages use the database clock. Zone-less columns (PostgreSQL `timestamp`,
 * MariaDB and MySQL `DATETIME`) must hold times in `timestampZone`, UTC by
 * default. Zoned columns (`timestamptz`, MariaDB and MySQL `TIMESTAMP`) need
 * no setting.
 */
export const outboxSourceConfigSchema = z
  .strictObject({
    kind: z.literal(OUTBOX_SOURCE_KIND),
    ...baseSourceFields,
    /** Database URL: `postgres://`, `postgresql://`, `mysql://` or `mariadb://`. A read-only account is enough. */
    url: z
      .string()
      .regex(/^(postgres(ql)?|mysql|mariadb):\/\//, 'expected a postgres://, postgresql://, mysql:// or mariadb:// URL'),
    /** Outbox table, optionally qualified by its schema (PostgreSQL) or database (MariaDB, MySQL). */
    table: z
      .string()
      .refine(isQualifiedSqlName, 'expected "table" or "schema.table" made of letters, digits and underscores'),
    /** Column with the time the row was written. */
    createdAtColumn: columnSchema,
    /** Column with the time the row was published; NULL while unpublished. Also gives the outflow rate. */
    publishedAtColumn: columnSchema.optional(),
    /** Column with the row's publishing status; takes precedence over `publishedAtColumn` for what is unpublished. */
    statusColumn: columnSchema.optional(),
    /** Status values of rows still waiting to be published. */
    unpublishedStatuses: z.array(z.string().min(1)).min(1).optional(),
    /** Status values of rows that failed to publish, counted in `failed`. */
    failedStatuses: z.array(z.string().min(1)).min(1).optional(),
    /** Column that splits the table into entities, such as the aggregate type or destination. */
    groupColumn: columnSchema.optional(),
    /** Zone in which zone-less timestamp columns are written. */
    timestampZone: z
      .string()
      .regex(TIME_ZONE_PATTERN, 'expected "UTC", an offset such as "+02:00" or a zone name such as "Europe/Berlin"')
      .default('UTC'),
  })
  .refine((config) => config.publishedAtColumn !== undefined || config.statusColumn !== undefined, {
    message: 'expected "publishedAtColumn" (NULL while unpublished) or "statusColumn" with "unpublishedStatuses"',
    path: ['publishedAtColumn'],
  })
  .refine((config) => config.statusColumn === undefined || config.unpublishedStatuses !== undefined, {
    message: 'expected "unpublishedStatuses" as well: the status values of rows still waiting to be published',
    path: ['unpublishedStatuses'],
  })
  .refine((config) => config.statusColumn !== undefined || (config.unpublishedStatuses ?? config.failedStatuses) === undefined, {
    message: 'expected "statusColumn" as well: status values need the column that contains them',
    path: ['statusColumn'],
  });

export type OutboxSourceConfigInput = z.input<typeof outboxSourceConfigSchema>;
export type OutboxSourceConfig = z.output<typeof outboxSourceConfigSchema>;

/** Services a source uses; all optional. */
export interface OutboxSourceDeps {
  logger?: Logger;
}

/** Creates an outbox lag source; throws `COLLECTOR_ERR_SOURCE_CONFIG` on an invalid config. */
export function createOutboxSource(config: OutboxSourceConfigInput, deps: OutboxSourceDeps = {}): LagSource {
  return new OutboxSource(parseSourceConfig(outboxSourceConfigSchema, config, OUTBOX_SOURCE_KIND), deps);
}

/**
 * Watches a transactional outbox table: unpublished rows (depth) and the age
 * of the oldest one per group, rows created (inflow) and published (outflow)
 * within the last poll interval. Queries run in a read-only transaction.
 *
 * NOTE: a relay that deletes rows once published leaves no trace of them, so
 * such tables report no outflow and an inflow counting only unpublished rows.
 */
export class OutboxSource implements LagSource {
  readonly name: string;
  readonly kind = OUTBOX_SOURCE_KIND;
  readonly intervalMs: number;
  readonly integration: string;
  readonly workflow: string;

  readonly #config: OutboxSourceConfig;
  readonly #origin: SampleOrigin;
  readonly #reader: OutboxReader;
  /** Groups seen so far; a group with nothing left to publish reports zeros instead of vanishing. */
  readonly #knownGroups = new Set<string>();
  #closed = false;

  constructor(config: OutboxSourceConfig, _deps: OutboxSourceDeps = {}) {
    this.#config = config;
    this.name = config.name;
    this.integration = config.integration;
    this.workflow = config.workflow ?? '';
    this.intervalMs = resolveIntervalMs(config, DEFAULT_OUTBOX_POLL_INTERVAL_MS);
    this.#origin = { integration: config.integration, source: config.name, sourceKind: OUTBOX_SOURCE_KIND };
    const spec: OutboxTableSpec = {
      table: config.table,
      createdAtColumn: config.createdAtColumn,
      timestampZone: config.timestampZone,
    };
    if (config.publishedAtColumn !== undefined) spec.publishedAtColumn = config.publishedAtColumn;
    if (config.statusColumn !== undefined) spec.statusColumn = config.statusColumn;
    if (config.unpublishedStatuses !== undefined) spec.unpublishedStatuses = config.unpublishedStatuses;
    if (config.failedStatuses !== undefined) spec.failedStatuses = config.failedStatuses;
    if (config.groupColumn !== undefined) spec.groupColumn = config.groupColumn;
    this.#reader = openOutboxReader(config.url, spec, config.timeoutMs ?? DEFAULT_OUTBOX_TIMEOUT_MS);
  }

  async poll(now: Date): Promise<PollResult> {
    const windowSeconds = this.intervalMs / 1000;
    let readings: OutboxGroupReading[];
    try {
      readings = await this.#reader.read(windowSeconds);
    } catch (error) {
      const detail = `cannot read ${this.#config.table} at ${redactUrl(this.#config.url)}: ${describeError(error)}`;
      return { samples: this.#downSamples(now, detail), failures: [] };
    }
    return { samples: this.#samplesFromReadings(readings, now, windowSeconds), failures: [] };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#reader.close();
  }

  #samplesFromReadings(readings: OutboxGroupReading[], now: Date, windowSeconds: number): LagSample[] {
    const grouped = this.#config.groupColumn !== undefined;
    const byEntity = new Map<string, OutboxGroupReading>();
    for (const reading of readings) {
      const entity = grouped ? (reading.group ?? NULL_GROUP_ENTITY) : this.#config.table;
      byEntity.set(entity, reading);
      this.#knownGroups.add(entity);
    }
    if (this.#knownGroups.size === 0) this.#knownGroups.add(grouped ? WHOLE_TABLE_ENTITY : this.#config.table);
    // The placeholder entity goes once a real group appears.
    if (byEntity.size > 0) this.#knownGroups.delete(WHOLE_TABLE_ENTITY);

    return [...this.#knownGroups].map((entity) => this.#entitySample(now, entity, byEntity.get(entity), windowSeconds));
  }

  /** Builds the sample of one entity; a missing reading means nothing waits and nothing moved in the window. */
  #entitySample(now: Date, entity: string, reading: OutboxGroupReading | undefined, windowSeconds: number): LagSample {
    const sample = buildSample(this.#origin, now, entity, this.workflow, 'ok');
    const depth = reading?.depth ?? 0;
    sample.depth = depth;
    sample.lagEstimated = false;
    sample.inflowPerSecond = (reading?.createdRecent ?? 0) / windowSeconds;
    if (this.#config.publishedAtColumn !== undefined) {
      sample.outflowPerSecond = (reading?.publishedRecent ?? 0) / windowSeconds;
    }
    if (this.#config.failedStatuses !== undefined) sample.failed = reading?.failed ?? 0;

    const attributes: Record<string, string> = { table: this.#config.table };
    if (this.#config.groupColumn !== undefined) attributes.group_column = this.#config.groupColumn;
    if (depth === 0) {
      sample.lagSeconds = 0;
    } else if (reading?.oldestAgeSeconds !== null && reading?.oldestAgeSeconds !== undefined) {
      // A created-at ahead of the database clock gives a negative age, which is clamped to zero.
      sample.lagSeconds = clampLagSeconds(reading.oldestAgeSeconds).lagSeconds;
    } else {
      sample.detail = `unpublished rows have no ${this.#config.createdAtColumn}`;
    }
    if (reading !== undefined && reading.futureRows > 0) {
      // The writer's clock runs ahead of the database's for these rows, even when older rows keep the lag positive.
      attributes.clock_ahead = 'true';
      attributes.future_rows = String(reading.futureRows);
      addCondition(sample, 'clock_skew');
    }
    sample.attributes = attributes;
    return sample;
  }

  #downSamples(now: Date, detail: string): LagSample[] {
    let entities = [...this.#knownGroups];
    if (entities.length === 0) {
      entities = [this.#config.groupColumn === undefined ? this.#config.table : WHOLE_TABLE_ENTITY];
    }
    return entities.map((entity) => {
      const sample = buildSample(this.#origin, now, entity, this.workflow, 'source_down');
      sample.detail = detail;
      sample.attributes = { table: this.#config.table };
      return sample;
    });
  }
}
