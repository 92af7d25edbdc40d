import { createHash } from 'node:crypto';
import type { AlertEvent, AlertSeverity } from '../../alerts/alert.js';
import type { PointScore } from './detector.js';
import { SERIES_METRICS, type SeriesMetric } from './series-query.js';

/** Identity of one scored series. */
export interface SeriesId {
  key: string;
  metric: string;
  integration: string;
  workflow: string;
  plant: string;
}

/** An alarm of one series at one minute, as stored in `anomalies`. */
export interface AnomalyRecord extends SeriesId {
  score: PointScore;
  incidentId: string;
}

export type IncidentState = 'open' | 'resolved';

/**
 * Width of the band a series must return to, as a multiple of the band it had
 * when it first alarmed. That band comes from a baseline that may have been
 * learned from few residuals, so it can be narrower than the series' noise.
 */
const RECOVERY_BAND_FACTOR = 2;

interface IncidentSeries {
  /** Band of normal values when the series first alarmed in this incident, widened by `RECOVERY_BAND_FACTOR`. */
  lower: number;
  upper: number;
  /** Consecutive points back inside that band since the last alarm. */
  inBand: number;
  /** Time of the series' latest point. */
  lastSeenAt: number;
}

/** An incident as the `incidents` table stores it. */
export interface Incident {
  id: string;
  causeKey: string;
  state: IncidentState;
  severity: AlertSeverity;
  integration: string;
  workflow: string;
  plant: string;
  metric: string;
  title: string;
  explanation: string;
  openedAt: number;
  updatedAt: number;
  resolvedAt: number | undefined;
  anomalyCount: number;
  peakScore: number;
  /** The alarm with the highest score. */
  peak: AnomalyRecord;
  lastAlarmAt: number;
  series: Map<string, IncidentSeries>;
  version: number;
}

export interface IncidentTrackerOptions {
  /** Time without a new alarm before an incident can resolve, in milliseconds. */
  resolveAfterMs: number;
  /** Consecutive in-band points every series of an incident needs before it resolves. */
  recoveryPoints: number;
}

/**
 * Returns the cause an alarm belongs to: its integration, or its workflow
 * and plant for series that span integrations (end-to-end latency). Alarms
 * of one cause share one open incident.
 */
export function causeKeyOf(series: SeriesId): string {
  return series.integration !== ''
    ? `anomaly:integration:${series.integration}`
    : `anomaly:workflow:${series.workflow}:${series.plant}`;
}

function incidentIdOf(causeKey: string, openedAt: number): string {
  return `anm-${createHash('sha256').update(`${causeKey}@${openedAt}`).digest('hex').slice(0, 16)}`;
}

function unitOf(metric: string): string {
  return SERIES_METRICS[metric as SeriesMetric] ?? '';
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

/**
 * Groups alarms into incidents, one open incident per cause. An alarm of a
 * cause without an open incident opens one, later alarms update it, and the
 * incident resolves once no alarm came for `resolveAfterMs` and every series
 * in it has stayed inside its pre-incident band, widened by
 * `RECOVERY_BAND_FACTOR`, for `recoveryPoints` points.
 */
export class IncidentTracker {
  private readonly open = new Map<string, Incident>();

  constructor(private readonly options: IncidentTrackerOptions) {}

  /** Open incidents by cause key. */
  get openIncidents(): ReadonlyMap<string, Incident> {
    return this.open;
  }

  /** Returns the open incident of the series' cause, opening one when there is none. */
  assign(series: SeriesId, score: PointScore): { incident: Incident; opened: boolean } {
    const causeKey = causeKeyOf(series);
    const existing = this.open.get(causeKey);
    if (existing) return { incident: existing, opened: false };
    const id = incidentIdOf(causeKey, score.ts);
    const peak: AnomalyRecord = { ...series, score, incidentId: id };
    const incident: Incident = {
      id,
      causeKey,
      state: 'open',
      severity: 'warning',
      integration: series.integration,
      workflow: series.workflow,
      plant: series.plant,
      metric: series.metric,
      title: '',
      explanation: '',
      openedAt: score.ts,
      updatedAt: score.ts,
      resolvedAt: undefined,
      anomalyCount: 0,
      peakScore: 0,
      peak,
      lastAlarmAt: score.ts,
      series: new Map(),
      version: 0,
    };
    this.open.set(causeKey, incident);
    return { incident, opened: true };
  }

  /** Adds one alarm to its incident; returns the record to store. */
  recordAlarm(series: SeriesId, score: PointScore): { record: AnomalyRecord; incident: Incident; opened: boolean } {
    const { incident, opened } = this.assign(series, score);
    const record: AnomalyRecord = { ...series, score, incidentId: incident.id };
    incident.anomalyCount++;
    incident.lastAlarmAt = Math.max(incident.lastAlarmAt, score.ts);
    incident.updatedAt = Math.max(incident.updatedAt, score.ts);
    const tracked = incident.series.get(series.key);
    if (tracked) {
      tracked.inBand = 0;
      tracked.lastSeenAt = score.ts;
    } else {
      const center = (score.lower + score.upper) / 2;
      const halfWidth = ((score.upper - score.lower) / 2) * RECOVERY_BAND_FACTOR;
      incident.series.set(series.key, { lower: center - halfWidth, upper: center + halfWidth, inBand: 0, lastSeenAt: score.ts });
    }
    if (score.score > incident.peakScore) {
      incident.peakScore = score.score;
      incident.peak = record;
      incident.metric = series.metric;
      if (series.workflow !== '' && incident.workflow === '') incident.workflow = series.workflow;
      if (series.plant !== '' && incident.plant === '') incident.plant = series.plant;
    }
    incident.severity = incident.series.size >= 3 || incident.peakScore >= 0.75 ? 'critical' : 'warning';
    describe(incident);
    return { record, incident, opened };
  }

  /** Records a later point of a series in an open incident, for recovery. */
  observe(seriesKey: string, causeKey: string, score: PointScore): void {
    const incident = this.open.get(causeKey);
    const tracked = incident?.series.get(seriesKey);
    if (!tracked || score.alarm) return;
    tracked.lastSeenAt = Math.max(tracked.lastSeenAt, score.ts);
    tracked.inBand = score.value >= tracked.lower && score.value <= tracked.upper ? tracked.inBand + 1 : 0;
  }

  /** Resolves the incidents that recovered by `now` and returns them. */
  resolveRecovered(now: number): Incident[] {
    const resolved: Incident[] = [];
    for (const [key, incident] of this.open) {
      if (now - incident.lastAlarmAt < this.options.resolveAfterMs) continue;
      let recovered = true;
      for (const series of incident.series.values()) {
        // A series that stopped reporting cannot recover; it is left out after three quiet periods.
        const silent = now - series.lastSeenAt >= 3 * this.options.resolveAfterMs;
        if (series.inBand < this.options.recoveryPoints && !silent) recovered = false;
      }
      if (!recovered) continue;
      incident.state = 'resolved';
      incident.resolvedAt = now;
      incident.updatedAt = now;
      describe(incident);
      this.open.delete(key);
      resolved.push(incident);
    }
    return resolved;
  }

  /** Re-opens incidents read back from the store after a restart. */
  restore(incident: Incident): void {
    this.open.set(incident.causeKey, incident);
  }
}

function describe(incident: Incident): void {
  const peak = incident.peak;
  if (!Number.isFinite(peak.score.value)) {
    // Restored from the store without its values: keep the stored wording.
    if (incident.state === 'resolved') incident.explanation += ' No alarm since.';
    return;
  }
  const where = [
    incident.integration !== '' ? incident.integration : undefined,
    incident.workflow !== '' ? `workflow ${incident.workflow}` : undefined,
    incident.plant !== '' ? `in ${incident.plant}` : undefined,
  ]
    .filter((part) => part !== undefined)
    .join(' ');
  const unit = unitOf(peak.metric);
  const verb = peak.score.value >= peak.score.expected ? 'high' : 'low';
  incident.title = `${where}: ${peak.metric} ${verb} at ${round(peak.score.value)} ${unit} (expected ${round(peak.score.expected)})`.trim();
  const others = incident.series.size - 1;
  incident.explanation =
    `${peak.metric}: ${peak.score.explanation}.` +
    (others > 0 ? ` ${others} more series of the same ${incident.integration !== '' ? 'integration' : 'workflow'} alarmed.` : '') +
    (incident.state === 'resolved' ? ' Every series is back inside its normal band.' : '');
}

/** Builds the alert event for one incident change. */
export function incidentEvent(incident: Incident, state: AlertEvent['state'], at: number): AlertEvent {
  const peak = incident.peak;
  return {
    incidentId: incident.id,
    state,
    kind: 'anomaly',
    severity: state === 'resolved' ? 'info' : incident.severity,
    title: incident.title,
    explanation: incident.explanation,
    ...(incident.integration !== '' ? { integration: incident.integration } : {}),
    ...(incident.workflow !== '' ? { workflow: incident.workflow } : {}),
    ...(incident.plant !== '' ? { plant: incident.plant } : {}),
    metric: {
      name: peak.metric,
      observed: peak.score.value,
      unit: unitOf(peak.metric),
      expected: peak.score.expected,
      lower: peak.score.lower,
      upper: peak.score.upper,
    },
    window: { start: new Date(incident.openedAt), end: new Date(incident.resolvedAt ?? incident.updatedAt) },
    at: new Date(at),
  };
}
