import type { ClickHouseClient } from '@clickhouse/client';
import type { Logger } from 'pino';
import type { AlertEvent, AlertSeverity } from '../../alerts/alert.js';
import type { AnalyzerStage } from '../stage.js';
import { ExceptionClassifier, type PreparedException } from './classifier.js';
import { toLlmSettings, type ExceptionsConfig } from './config.js';
import { LlmClassifier } from './llm.js';
import {
  MAX_GROUPS_PER_READ,
  readFailureExceptions,
  readLatestSeen,
  readSpanExceptions,
  readStoredFingerprints,
  writeFingerprintUpdates,
  type FingerprintUpdate,
  type OccurrenceGroup,
  type StoredFingerprint,
} from './store.js';
import { unknownClassification } from './rules.js';
import { recommendedActionFor, type ExceptionClassification } from './taxonomy.js';

/** Characters of one stored sample; samples are redacted before they are cut. */
const MAX_SAMPLE_CHARS = 500;
/** Shortest time the surge rates are computed over, so a single burst does not look infinite. */
const MIN_RATE_SPAN_MS = 3_600_000;
const MIN_CYCLE_SPAN_MS = 60_000;
/** Time without a new occurrence after which an exception incident resolves. */
export const EXCEPTION_QUIET_RESOLVE_MS = 30 * 60_000;

export interface ExceptionStageOptions {
  /** Replaces the classifier built from the configuration, for tests. */
  classifier?: ExceptionClassifier;
}

/** The exception stage, with its classifier exposed for metrics and tests. */
export interface ExceptionStage extends AnalyzerStage {
  readonly classifier: ExceptionClassifier;
}

/** A fingerprint of one integration in the current cycle. */
interface CycleFingerprint {
  integration: string;
  prepared: PreparedException;
  exceptionType: string;
  system: string;
  occurrences: number;
  firstSeenMs: number;
  lastSeenMs: number;
  samples: Set<string>;
}

/**
 * Creates the analyzer stage for exceptions. Each cycle reads new occurrences
 * from span events and `integration_failures` and groups them into
 * fingerprints per integration. It stores counts and redacted samples, labels
 * fingerprints that have no label yet, and returns alert events for new and
 * surging fingerprints.
 */
export function createExceptionStage(client: ClickHouseClient, config: ExceptionsConfig, logger?: Logger, options: ExceptionStageOptions = {}): ExceptionStage {
  const llm = config.llm ? new LlmClassifier({ settings: toLlmSettings(config.llm), logger }) : undefined;
  const classifier = options.classifier ?? new ExceptionClassifier({ redactNames: config.redact.names, llm, logger });
  let watermark: Date | undefined;
  // NOTE: open incidents live in memory, so incidents open before a restart stay open in the incidents table.
  const openIncidents = new Map<string, { event: AlertEvent; lastSeenMs: number }>();

  return {
    name: 'exceptions',
    classifier,
    async run(now: Date): Promise<AlertEvent[]> {
      const from = watermark ?? (await initialWatermark(client, now, config.initialLookback));
      if (now.getTime() <= from.getTime()) return [];

      const spanGroups = await readSpanExceptions(client, from, now);
      const failureGroups = await readFailureExceptions(client, from, now);
      if (spanGroups.length >= MAX_GROUPS_PER_READ || failureGroups.length >= MAX_GROUPS_PER_READ) {
        logger?.warn(
          { spanGroups: spanGroups.length, failureGroups: failureGroups.length, limit: MAX_GROUPS_PER_READ, from, to: now },
          'exception read hit its group limit; the least frequent texts of this window are not counted',
        );
      }
      const groups = [...spanGroups, ...failureGroups];
      const cycle = groupByFingerprint(groups, classifier, config.samplesPerFingerprint);
      const stored = await readStoredFingerprints(client, [...new Set([...cycle.values()].map((entry) => entry.prepared.fingerprint))]);
      const storedByKey = new Map(stored.map((entry) => [keyOf(entry.integration, entry.fingerprint), entry]));
      // A label made for one integration serves every other integration with the same fingerprint.
      const labelByFingerprint = new Map<string, ExceptionClassification>();
      for (const entry of stored) if (entry.classification) labelByFingerprint.set(entry.fingerprint, entry.classification);

      // Fingerprints without a stored label are labelled once each, a few at a time.
      const labels = await labelFingerprints(classifier, [...cycle.values()], storedByKey, labelByFingerprint);

      const updates: FingerprintUpdate[] = [];
      const events: AlertEvent[] = [];
      for (const [key, entry] of cycle) {
        const previous = storedByKey.get(key);
        const labelledNow = labels.get(entry.prepared.fingerprint);
        const shared = labelByFingerprint.get(entry.prepared.fingerprint);
        const label = previous?.classification ?? labelledNow?.classification ?? shared ?? unknownClassification('not labelled');
        // A provisional label is shown in the alert but not stored, so the next cycle tries again.
        const isFinal = labelledNow ? labelledNow.final : shared !== undefined;
        const labelToStore = !previous?.classification && isFinal ? label : undefined;
        updates.push(toUpdate(entry, previous, config.samplesPerFingerprint, labelToStore, now));
        const event = alertFor(entry, previous, label, { from, now, surge: config.surge });
        if (event) events.push(event);
        const incidentId = incidentIdOf(entry.integration, entry.prepared.fingerprint);
        const open = openIncidents.get(incidentId);
        if (event) openIncidents.set(incidentId, { event, lastSeenMs: entry.lastSeenMs });
        else if (open) open.lastSeenMs = Math.max(open.lastSeenMs, entry.lastSeenMs);
      }
      events.push(...resolveQuietIncidents(openIncidents, now));

      await writeFingerprintUpdates(client, updates);
      watermark = now;
      if (cycle.size > 0) {
        logger?.info({ fingerprints: cycle.size, occurrenceGroups: groups.length, alerts: events.length }, 'exception fingerprints updated');
      }
      return events;
    },
  };
}

/** Model calls in flight at once while labelling new fingerprints. */
const LABEL_CONCURRENCY = 4;

async function labelFingerprints(
  classifier: ExceptionClassifier,
  entries: readonly CycleFingerprint[],
  storedByKey: ReadonlyMap<string, StoredFingerprint>,
  labelByFingerprint: ReadonlyMap<string, ExceptionClassification>,
): Promise<Map<string, { classification: ExceptionClassification; final: boolean }>> {
  const pending = new Map<string, PreparedException>();
  for (const entry of entries) {
    const fingerprint = entry.prepared.fingerprint;
    if (storedByKey.get(keyOf(entry.integration, fingerprint))?.classification || labelByFingerprint.has(fingerprint)) continue;
    pending.set(fingerprint, entry.prepared);
  }
  const labels = new Map<string, { classification: ExceptionClassification; final: boolean }>();
  const queue = [...pending.values()];
  const worker = async () => {
    for (let prepared = queue.shift(); prepared; prepared = queue.shift()) labels.set(prepared.fingerprint, await classifier.label(prepared));
  };
  await Promise.all(Array.from({ length: LABEL_CONCURRENCY }, worker));
  return labels;
}

async function initialWatermark(client: ClickHouseClient, now: Date, lookbackMs: number): Promise<Date> {
  const earliest = new Date(now.getTime() - lookbackMs);
  const latest = await readLatestSeen(client);
  // NOTE: after a restart, occurrences later than the stored last_seen but read before the restart are counted again.
  return latest && latest > earliest ? latest : earliest;
}

function incidentIdOf(integration: string, fingerprint: string): string {
  return `exception:${integration}:${fingerprint}`;
}

/** Returns a `resolved` event for each open incident whose fingerprint stayed quiet for `EXCEPTION_QUIET_RESOLVE_MS`, and removes it from `openIncidents`. */
function resolveQuietIncidents(openIncidents: Map<string, { event: AlertEvent; lastSeenMs: number }>, now: Date): AlertEvent[] {
  const resolved: AlertEvent[] = [];
  for (const [incidentId, { event, lastSeenMs }] of openIncidents) {
    if (now.getTime() - lastSeenMs < EXCEPTION_QUIET_RESOLVE_MS) continue;
    openIncidents.delete(incidentId);
    resolved.push({
      ...event,
      state: 'resolved',
      title: `Resolved: ${event.title}`,
      explanation: `No new occurrence since ${new Date(lastSeenMs).toISOString()}.`,
      metric: undefined,
      at: now,
    });
  }
  return resolved;
}

function keyOf(integration: string, fingerprint: string): string {
  return `${integration}\u0000${fingerprint}`;
}

function groupByFingerprint(groups: readonly OccurrenceGroup[], classifier: ExceptionClassifier, maxSamples: number): Map<string, CycleFingerprint> {
  const cycle = new Map<string, CycleFingerprint>();
  for (const group of groups) {
    if (group.message === '' && group.exceptionType === '') continue;
    const prepared = classifier.prepare({ message: group.message, exceptionType: group.exceptionType || undefined, system: group.system || undefined });
    const key = keyOf(group.integration, prepared.fingerprint);
    let entry = cycle.get(key);
    if (!entry) {
      entry = {
        integration: group.integration,
        prepared,
        exceptionType: group.exceptionType,
        system: group.system,
        occurrences: 0,
        firstSeenMs: group.firstSeenMs,
        lastSeenMs: group.lastSeenMs,
        samples: new Set(),
      };
      cycle.set(key, entry);
    }
    entry.occurrences += group.occurrences;
    entry.firstSeenMs = Math.min(entry.firstSeenMs, group.firstSeenMs);
    entry.lastSeenMs = Math.max(entry.lastSeenMs, group.lastSeenMs);
    if (entry.samples.size < maxSamples) entry.samples.add(prepared.redacted.slice(0, MAX_SAMPLE_CHARS));
  }
  return cycle;
}

function toUpdate(
  entry: CycleFingerprint,
  previous: StoredFingerprint | undefined,
  maxSamples: number,
  label: ExceptionClassification | undefined,
  now: Date,
): FingerprintUpdate {
  // Samples stop once the fingerprint has enough, so the stored array stays bounded.
  const room = Math.max(0, maxSamples - (previous?.sampleCount ?? 0));
  return {
    integration: entry.integration,
    fingerprint: entry.prepared.fingerprint,
    template: entry.prepared.template,
    exceptionType: entry.exceptionType,
    system: entry.system,
    occurrences: entry.occurrences,
    firstSeenMs: entry.firstSeenMs,
    lastSeenMs: entry.lastSeenMs,
    samples: [...entry.samples].slice(0, room),
    classification: label,
    classifiedAt: label ? now : undefined,
  };
}

interface AlertContext {
  from: Date;
  now: Date;
  surge: ExceptionsConfig['surge'];
}

/** Returns an `opened` event for a fingerprint new to its integration, an `updated` one for a surge, else undefined. */
function alertFor(entry: CycleFingerprint, previous: StoredFingerprint | undefined, label: ExceptionClassification, context: AlertContext): AlertEvent | undefined {
  const { integration } = entry;
  const fingerprint = entry.prepared.fingerprint;
  const action = recommendedActionFor(label.category, label.retryable);
  const labelText = `${label.category}, ${label.retryable ? 'retryable' : 'not retryable'}, labelled by ${label.rule ? `rule ${label.rule}` : label.classifiedBy} with confidence ${label.confidence.toFixed(2)}`;
  const base = {
    incidentId: incidentIdOf(integration, fingerprint),
    kind: 'exception' as const,
    integration,
    window: { start: context.from, end: context.now },
    exception: {
      fingerprint,
      category: label.category,
      retryable: label.retryable,
      sample: [...entry.samples][0] ?? entry.prepared.template,
      count: entry.occurrences + (previous?.occurrences ?? 0),
    },
    at: context.now,
  };

  if (!previous) {
    return {
      ...base,
      state: 'opened',
      severity: severityOf(label),
      title: `New ${label.category} exception on ${integration}: ${entry.occurrences} since ${context.from.toISOString()}`,
      explanation: `A new exception fingerprint appeared (${labelText}). Recommended first action: ${action}.`,
    };
  }

  const cycleSpanMs = Math.max(context.now.getTime() - context.from.getTime(), MIN_CYCLE_SPAN_MS);
  const storedSpanMs = Math.max(previous.lastSeenMs - previous.firstSeenMs, MIN_RATE_SPAN_MS);
  const usualPerHour = (previous.occurrences / storedSpanMs) * 3_600_000;
  const nowPerHour = (entry.occurrences / cycleSpanMs) * 3_600_000;
  if (entry.occurrences < context.surge.minCount || nowPerHour < context.surge.factor * usualPerHour) return undefined;
  return {
    ...base,
    state: 'updated',
    severity: label.retryable ? 'warning' : 'critical',
    title: `${label.category} exceptions surge on ${integration}: ${entry.occurrences} in ${Math.round(cycleSpanMs / 60_000)} min`,
    explanation: `The rate rose to ${nowPerHour.toFixed(1)} per hour from a usual ${usualPerHour.toFixed(1)} (${labelText}). Recommended first action: ${action}.`,
    metric: { name: 'exceptions_per_hour', observed: nowPerHour, unit: 'per hour', expected: usualPerHour },
  };
}

function severityOf(label: ExceptionClassification): AlertSeverity {
  if (label.retryable) return 'info';
  if (label.category === 'resource_exhausted' || label.category === 'auth_expired' || label.category === 'code_defect') return 'critical';
  return 'warning';
}
