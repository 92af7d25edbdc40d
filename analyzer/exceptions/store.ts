import type { ClickHouseClient } from '@clickhouse/client';
import { isExceptionCategory, type ExceptionClassification } from './taxonomy.js';

export const EXCEPTION_FINGERPRINTS_TABLE = 'exception_fingerprints';

/**
 * Groups read per cycle and source at most, the most frequent first. Groups
 * beyond it are not counted, and the stage logs a warning when a read hits it.
 */
export const MAX_GROUPS_PER_READ = 50_000;

/** Exceptions of one integration, type and exact text in a window, as read from the store. */
export interface OccurrenceGroup {
  integration: string;
  system: string;
  exceptionType: string;
  message: string;
  occurrences: number;
  firstSeenMs: number;
  lastSeenMs: number;
}

interface OccurrenceRow {
  integration: string;
  system: string;
  exception_type: string;
  message: string;
  occurrences: string | number;
  first_seen_ms: string | number;
  last_seen_ms: string | number;
}

/**
 * Reads exception span events (`exception.type`, `exception.message`) of
 * spans that started in (from, to], grouped by integration, service and text.
 * The integration is the span's `syncwatch.integration` attribute, else the
 * service name.
 *
 * NOTE: a span that arrives after its window was read is not counted, because
 * the window is by span start time and `otel_traces` records no arrival time.
 */
export async function readSpanExceptions(client: ClickHouseClient, from: Date, to: Date): Promise<OccurrenceGroup[]> {
  const result = await client.query({
    query: `
      SELECT
          if(SpanAttributes['syncwatch.integration'] != '', SpanAttributes['syncwatch.integration'], ServiceName) AS integration,
          ServiceName AS system,
          event_attributes['exception.type'] AS exception_type,
          event_attributes['exception.message'] AS message,
          count() AS occurrences,
          toUnixTimestamp64Milli(toDateTime64(min(event_time), 3)) AS first_seen_ms,
          toUnixTimestamp64Milli(toDateTime64(max(event_time), 3)) AS last_seen_ms
      FROM otel_traces
      ARRAY JOIN Events.Name AS event_name, Events.Timestamp AS event_time, Events.Attributes AS event_attributes
      WHERE Timestamp > {from:DateTime64(3)} AND Timestamp <= {to:DateTime64(3)} AND event_name = 'exception'
      GROUP BY integration, system, exception_type, message
      ORDER BY occurrences DESC
      LIMIT ${MAX_GROUPS_PER_READ}`,
    query_params: { from: formatDateTime(from), to: formatDateTime(to) },
    format: 'JSONEachRow',
  });
  return (await result.json<OccurrenceRow>()).map(toGroup);
}

/** Days before a window in which a failure may have happened and still be seen first inside the window. */
const FAILURE_LOOKBACK_DAYS = 7;

/**
 * Reads failures from `integration_failures` first observed in (from, to],
 * one occurrence per source and failure id however often it was observed,
 * grouped by integration, source kind and text.
 *
 * NOTE: a failure first observed more than 7 days after it failed is not read.
 */
export async function readFailureExceptions(client: ClickHouseClient, from: Date, to: Date): Promise<OccurrenceGroup[]> {
  const result = await client.query({
    query: `
      SELECT
          integration,
          source_kind AS system,
          exception_name AS exception_type,
          exception_message AS message,
          count() AS occurrences,
          toUnixTimestamp64Milli(min(failed)) AS first_seen_ms,
          toUnixTimestamp64Milli(max(failed)) AS last_seen_ms
      FROM (
          SELECT
              source,
              failure_id,
              any(integration) AS integration,
              any(source_kind) AS source_kind,
              any(exception_name) AS exception_name,
              any(exception_message) AS exception_message,
              min(failed_at) AS failed,
              min(observed_at) AS first_observed
          FROM integration_failures
          WHERE failed_at > {from:DateTime64(3)} - INTERVAL ${FAILURE_LOOKBACK_DAYS} DAY
          GROUP BY source, failure_id
          HAVING first_observed > {from:DateTime64(3)} AND first_observed <= {to:DateTime64(3)}
      )
      GROUP BY integration, system, exception_type, message
      ORDER BY occurrences DESC
      LIMIT ${MAX_GROUPS_PER_READ}`,
    query_params: { from: formatDateTime(from), to: formatDateTime(to) },
    format: 'JSONEachRow',
  });
  return (await result.json<OccurrenceRow>()).map(toGroup);
}

/** A fingerprint as stored, merged over all its rows. */
export interface StoredFingerprint {
  integration: string;
  fingerprint: string;
  occurrences: number;
  firstSeenMs: number;
  lastSeenMs: number;
  sampleCount: number;
  /** Undefined until the fingerprint has a label. */
  classification?: ExceptionClassification;
}

interface StoredRow {
  integration: string;
  fingerprint: string;
  occurrences: string | number;
  first_seen_ms: string | number;
  last_seen_ms: string | number;
  sample_count: string | number;
  classified: boolean | number;
  category: string;
  retryable: boolean;
  confidence: number;
  classified_by: string;
  rule: string;
  rationale: string;
}

/** Reads the stored state of the given fingerprints, of any integration. */
export async function readStoredFingerprints(client: ClickHouseClient, fingerprints: readonly string[]): Promise<StoredFingerprint[]> {
  if (fingerprints.length === 0) return [];
  const result = await client.query({
    query: `
      SELECT
          integration,
          fingerprint,
          sum(occurrences) AS occurrences,
          toUnixTimestamp64Milli(min(first_seen)) AS first_seen_ms,
          toUnixTimestamp64Milli(max(last_seen)) AS last_seen_ms,
          length(groupUniqArrayArray(samples)) AS sample_count,
          max(label) AS latest_label,
          toUnixTimestamp64Milli(tupleElement(latest_label, 'classified_at')) > 0 AS classified,
          tupleElement(latest_label, 'category') AS category,
          tupleElement(latest_label, 'retryable') AS retryable,
          tupleElement(latest_label, 'confidence') AS confidence,
          tupleElement(latest_label, 'classified_by') AS classified_by,
          tupleElement(latest_label, 'rule') AS rule,
          tupleElement(latest_label, 'rationale') AS rationale
      FROM ${EXCEPTION_FINGERPRINTS_TABLE}
      WHERE fingerprint IN {fingerprints:Array(String)}
      GROUP BY integration, fingerprint`,
    query_params: { fingerprints: [...fingerprints] },
    format: 'JSONEachRow',
  });
  const rows = await result.json<StoredRow>();
  return rows.map((row) => ({
    integration: row.integration,
    fingerprint: row.fingerprint,
    occurrences: Number(row.occurrences),
    firstSeenMs: Number(row.first_seen_ms),
    lastSeenMs: Number(row.last_seen_ms),
    sampleCount: Number(row.sample_count),
    classification: Boolean(row.classified) ? toClassification(row) : undefined,
  }));
}

/** Returns the latest `last_seen` of any fingerprint, or undefined when none is stored. */
export async function readLatestSeen(client: ClickHouseClient): Promise<Date | undefined> {
  const result = await client.query({
    query: `SELECT toUnixTimestamp64Milli(max(last_seen)) AS latest_ms, count() AS fingerprint_rows FROM ${EXCEPTION_FINGERPRINTS_TABLE}`,
    format: 'JSONEachRow',
  });
  const [row] = await result.json<{ latest_ms: string | number; fingerprint_rows: string | number }>();
  if (!row || Number(row.fingerprint_rows) === 0) return undefined;
  return new Date(Number(row.latest_ms));
}

/** One increment of a fingerprint: counts and samples of one cycle, and a label when one was made. */
export interface FingerprintUpdate {
  integration: string;
  fingerprint: string;
  template: string;
  exceptionType: string;
  system: string;
  occurrences: number;
  firstSeenMs: number;
  lastSeenMs: number;
  samples: string[];
  classification?: ExceptionClassification;
  classifiedAt?: Date;
}

/**
 * Appends increments to `exception_fingerprints`. The table sums, takes the
 * minimum and maximum and unites samples per integration and fingerprint,
 * so reads must group (or use FINAL) to see the merged row.
 */
export async function writeFingerprintUpdates(client: ClickHouseClient, updates: readonly FingerprintUpdate[]): Promise<void> {
  if (updates.length === 0) return;
  await client.insert({
    table: EXCEPTION_FINGERPRINTS_TABLE,
    format: 'JSONEachRow',
    values: updates.map((update) => ({
      integration: update.integration,
      fingerprint: update.fingerprint,
      template: update.template,
      exception_type: update.exceptionType,
      system: update.system,
      occurrences: update.occurrences,
      first_seen: formatDateTime(new Date(update.firstSeenMs)),
      last_seen: formatDateTime(new Date(update.lastSeenMs)),
      samples: update.samples,
      ...(update.classification && update.classifiedAt
        ? {
            label: {
              classified_at: formatDateTime(update.classifiedAt),
              category: update.classification.category,
              retryable: update.classification.retryable,
              confidence: update.classification.confidence,
              classified_by: update.classification.classifiedBy,
              rule: update.classification.rule ?? '',
              rationale: update.classification.rationale,
            },
          }
        : {}),
    })),
  });
}

function toGroup(row: OccurrenceRow): OccurrenceGroup {
  return {
    integration: row.integration,
    system: row.system,
    exceptionType: row.exception_type,
    message: row.message,
    occurrences: Number(row.occurrences),
    firstSeenMs: Number(row.first_seen_ms),
    lastSeenMs: Number(row.last_seen_ms),
  };
}

function toClassification(row: StoredRow): ExceptionClassification {
  const classifiedBy = row.classified_by === 'llm' ? 'llm' : 'rules';
  return {
    category: isExceptionCategory(row.category) ? row.category : 'unknown',
    retryable: Boolean(row.retryable),
    confidence: Number(row.confidence),
    classifiedBy,
    ...(row.rule ? { rule: row.rule } : {}),
    rationale: row.rationale,
  };
}

/** Formats a time as Unix seconds with milliseconds, which DateTime64(3) reads the same in every server time zone. */
function formatDateTime(date: Date): string {
  const epochMs = date.getTime();
  const seconds = Math.floor(epochMs / 1000);
  return `${seconds}.${String(epochMs - seconds * 1000).padStart(3, '0')}`;
}
