import type { ClickHouseClient } from '@clickhouse/client';
import type { Logger } from 'pino';
import type { AlertEvent } from '../../alerts/alert.js';
import type { AnalyzerStage } from '../stage.js';
import { SeriesDetector, type DetectorParams, type PointScore } from './detector.js';
import { causeKeyOf, incidentEvent, IncidentTracker, type AnomalyRecord, type Incident, type SeriesId } from './incidents.js';
import { streamSeries, type SeriesPoint } from './series-query.js';

const MINUTE_MS = 60_000;

/** Metrics whose minute without a row means zero, so a flow that stops shows as zeros. */
const COUNT_METRICS = new Set(['spans_per_minute', 'failures_per_minute', 'retries_per_minute']);

/** Most zero minutes filled into one gap; longer gaps restart from the next value. */
const MAX_FILLED_MINUTES = 24 * 60;

export interface AnomalyStageOptions {
  client: ClickHouseClient;
  logger?: Logger;
  /** History read on the first cycle to learn each series' baseline, in milliseconds. */
  restoreWindowMs?: number;
  /** Time without a new alarm before an incident can resolve, in milliseconds. */
  resolveAfterMs?: number;
  /** Consecutive in-band minutes every series of an incident needs before it resolves. */
  recoveryPoints?: number;
  /** Detector parameters; the defaults are the ones evaluated on NAB. */
  detector?: Partial<DetectorParams>;
}

export const DEFAULT_RESTORE_WINDOW_MS = 2 * 24 * 3_600_000;
export const DEFAULT_RESOLVE_AFTER_MS = 5 * MINUTE_MS;
export const DEFAULT_RECOVERY_POINTS = 3;

interface SeriesState {
  id: SeriesId;
  detector: SeriesDetector;
  lastTs: number;
}

/** Counts and timings of one cycle, for logs and the benchmark. */
export interface AnomalyCycleStats {
  points: number;
  series: number;
  anomalies: number;
  queryAndScoreMs: number;
  writeMs: number;
}

/**
 * The analyzer's anomaly stage. Each cycle aggregates every series per
 * minute in ClickHouse, from the last scored minute up to the last complete
 * one. It scores the new points with one streaming detector per series,
 * kept in memory, and writes alarms to `anomalies`. Alarms are grouped into
 * `incidents`, one open incident per cause. The first cycle reads
 * `restoreWindowMs` of history to learn the baselines and reports only the
 * last two minutes of it.
 */
export class AnomalyStage implements AnalyzerStage {
  readonly name = 'anomaly';
  private readonly series = new Map<string, SeriesState>();
  private readonly tracker: IncidentTracker;
  private scoredUntil: number | undefined;
  private restoredIncidents = false;
  lastCycle: AnomalyCycleStats | undefined;

  constructor(private readonly options: AnomalyStageOptions) {
    this.tracker = new IncidentTracker({
      resolveAfterMs: options.resolveAfterMs ?? DEFAULT_RESOLVE_AFTER_MS,
      recoveryPoints: options.recoveryPoints ?? DEFAULT_RECOVERY_POINTS,
    });
  }

  /** Open incidents by cause key. */
  get openIncidents(): ReadonlyMap<string, Incident> {
    return this.tracker.openIncidents;
  }

  async run(now: Date): Promise<AlertEvent[]> {
    const started = performance.now();
    const end = Math.floor(now.getTime() / MINUTE_MS) * MINUTE_MS;
    const restoring = this.scoredUntil === undefined;
    const start = this.scoredUntil ?? end - (this.options.restoreWindowMs ?? DEFAULT_RESTORE_WINDOW_MS);
    if (end <= start) return [];
    if (!this.restoredIncidents) await this.restoreOpenIncidents();

    const reportFrom = restoring ? end - 2 * MINUTE_MS : start;
    const records: AnomalyRecord[] = [];
    const opened = new Map<string, Incident>();
    const updated = new Map<string, Incident>();
    const handle = (state: SeriesState, score: PointScore) => {
      if (score.ts < reportFrom) return;
      if (!score.alarm) {
        this.tracker.observe(state.id.key, causeKeyOf(state.id), score);
        return;
      }
      const result = this.tracker.recordAlarm(state.id, score);
      records.push(result.record);
      if (result.opened) opened.set(result.incident.id, result.incident);
      else if (!opened.has(result.incident.id)) updated.set(result.incident.id, result.incident);
    };

    const points = await streamSeries(this.options.client, start, end, (point) => this.score(point, handle));
    // A count series without a row in the last minute gets zeros up to it.
    for (const state of this.series.values()) {
      if (COUNT_METRICS.has(state.id.metric)) this.fillZeros(state, end - MINUTE_MS, handle);
    }
    const resolved = this.tracker.resolveRecovered(end);
    const scored = performance.now();

    const changed = [...opened.values(), ...updated.values(), ...resolved];
    await this.write(records, changed, now.getTime());
    this.scoredUntil = end;
    this.lastCycle = {
      points,
      series: this.series.size,
      anomalies: records.length,
      queryAndScoreMs: scored - started,
      writeMs: performance.now() - scored,
    };
    this.options.logger?.debug({ stage: this.name, ...this.lastCycle, restoring }, 'anomaly cycle done');

    const at = now.getTime();
    return [
      ...[...opened.values()].map((incident) => incidentEvent(incident, 'opened', at)),
      ...[...updated.values()].map((incident) => incidentEvent(incident, 'updated', at)),
      ...resolved.map((incident) => incidentEvent(incident, 'resolved', at)),
    ];
  }

  private score(point: SeriesPoint, handle: (state: SeriesState, score: PointScore) => void): void {
    const key = `${point.metric}|${point.integration}|${point.workflow}|${point.plant}`;
    let state = this.series.get(key);
    if (!state) {
      const id: SeriesId = { key, metric: point.metric, integration: point.integration, workflow: point.workflow, plant: point.plant };
      state = { id, detector: new SeriesDetector(this.options.detector), lastTs: Number.NEGATIVE_INFINITY };
      this.series.set(key, state);
    }
    if (point.ts <= state.lastTs) return;
    if (COUNT_METRICS.has(point.metric)) this.fillZeros(state, point.ts - MINUTE_MS, handle);
    state.lastTs = point.ts;
    handle(state, state.detector.update(point.ts, point.value));
  }

  private fillZeros(state: SeriesState, until: number, handle: (state: SeriesState, score: PointScore) => void): void {
    if (!Number.isFinite(state.lastTs) || until <= state.lastTs) return;
    const from = Math.max(state.lastTs + MINUTE_MS, until - (MAX_FILLED_MINUTES - 1) * MINUTE_MS);
    for (let ts = from; ts <= until; ts += MINUTE_MS) {
      state.lastTs = ts;
      handle(state, state.detector.update(ts, 0));
    }
  }

  private async write(records: AnomalyRecord[], incidents: Incident[], nowMs: number): Promise<void> {
    const { client } = this.options;
    const detectedAt = nowMs;
    if (records.length > 0) {
      await client.insert({
        table: 'anomalies',
        format: 'JSONEachRow',
        values: records.map((r) => ({
          ts: r.score.ts,
          detected_at: detectedAt,
          series_key: r.key,
          integration: r.integration,
          workflow: r.workflow,
          plant: r.plant,
          metric: r.metric,
          kind: r.score.kind,
          value: r.score.value,
          expected: r.score.expected,
          lower: r.score.lower,
          upper: r.score.upper,
          score: r.score.score,
          explanation: r.score.explanation,
          incident_id: r.incidentId,
        })),
      });
    }
    if (incidents.length > 0) {
      await client.insert({
        table: 'incidents',
        format: 'JSONEachRow',
        values: incidents.map((incident) => {
          incident.version = Math.max(incident.version + 1, nowMs);
          return {
            incident_id: incident.id,
            cause_key: incident.causeKey,
            state: incident.state,
            kind: 'anomaly',
            severity: incident.severity,
            integration: incident.integration,
            workflow: incident.workflow,
            plant: incident.plant,
            metric: incident.metric,
            title: incident.title,
            explanation: incident.explanation,
            opened_at: incident.openedAt,
            updated_at: incident.updatedAt,
            resolved_at: incident.resolvedAt ?? null,
            anomaly_count: incident.anomalyCount,
            series_count: incident.series.size,
            peak_score: incident.peakScore,
            version: incident.version,
          };
        }),
      });
    }
  }

  /**
   * Takes over the incidents a previous run left open, so a restart does not
   * open a second incident for the same cause. Their bands are not stored, so
   * they resolve once no alarm came for the resolve time.
   */
  private async restoreOpenIncidents(): Promise<void> {
    this.restoredIncidents = true;
    const result = await this.options.client.query({
      query: `SELECT incident_id, cause_key, severity, integration, workflow, plant, metric, title, explanation,
                toUnixTimestamp64Milli(opened_at) AS opened, toUnixTimestamp64Milli(updated_at) AS updated,
                anomaly_count, peak_score, version
              FROM incidents FINAL WHERE kind = 'anomaly' AND state = 'open'`,
      format: 'JSONEachRow',
    });
    const rows = await result.json<{
      incident_id: string;
      cause_key: string;
      severity: string;
      integration: string;
      workflow: string;
      plant: string;
      metric: string;
      title: string;
      explanation: string;
      opened: string | number;
      updated: string | number;
      anomaly_count: number;
      peak_score: number;
      version: string | number;
    }>();
    for (const row of rows) {
      const updated = Number(row.updated);
      const peakScore: PointScore = {
        ts: updated,
        value: Number.NaN,
        expected: Number.NaN,
        lower: Number.NaN,
        upper: Number.NaN,
        score: row.peak_score,
        alarm: true,
        kind: 'spike',
        baseline: 'level',
        explanation: row.explanation,
      };
      const series: SeriesId = { key: '', metric: row.metric, integration: row.integration, workflow: row.workflow, plant: row.plant };
      this.tracker.restore({
        id: row.incident_id,
        causeKey: row.cause_key,
        state: 'open',
        severity: row.severity === 'critical' ? 'critical' : 'warning',
        integration: row.integration,
        workflow: row.workflow,
        plant: row.plant,
        metric: row.metric,
        title: row.title,
        explanation: row.explanation,
        openedAt: Number(row.opened),
        updatedAt: updated,
        resolvedAt: undefined,
        anomalyCount: Number(row.anomaly_count),
        peakScore: row.peak_score,
        peak: { ...series, score: peakScore, incidentId: row.incident_id },
        lastAlarmAt: updated,
        series: new Map(),
        version: Number(row.version),
      });
    }
  }
}
