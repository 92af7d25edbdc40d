import type { ClickHouseClient } from '@clickhouse/client';
import type { AlertEvent, AlertSink } from '../alerts/alert.js';

/**
 * Records the incidents of stages that do not write the `incidents` table
 * themselves (predictions and exceptions), so the API, the console and the
 * dashboards list every open incident. The anomaly stage writes its own rows
 * with counts and scores, so its events are skipped here.
 */
export class IncidentRecorder implements AlertSink {
  readonly name = 'incident-recorder';
  /** Opening time and last version of each open incident this process has seen. */
  private readonly open = new Map<string, { openedAtMs: number; version: number }>();

  constructor(private readonly client: ClickHouseClient) {}

  async send(event: AlertEvent): Promise<void> {
    if (event.kind === 'anomaly') return;
    const atMs = event.at.getTime();
    const previous = this.open.get(event.incidentId);
    // NOTE: after a restart the first event of an incident opened earlier carries its own time as the opening time.
    const openedAtMs = previous?.openedAtMs ?? atMs;
    const version = Math.max((previous?.version ?? 0) + 1, atMs);
    const resolved = event.state === 'resolved';
    if (resolved) this.open.delete(event.incidentId);
    else this.open.set(event.incidentId, { openedAtMs, version });

    await this.client.insert({
      table: 'incidents',
      format: 'JSONEachRow',
      values: [
        {
          incident_id: event.incidentId,
          cause_key: event.incidentId,
          state: resolved ? 'resolved' : 'open',
          kind: event.kind,
          severity: event.severity,
          integration: event.integration ?? '',
          workflow: event.workflow ?? '',
          plant: event.plant ?? '',
          metric: event.metric?.name ?? '',
          title: event.title,
          explanation: event.explanation,
          opened_at: openedAtMs,
          updated_at: atMs,
          resolved_at: resolved ? atMs : null,
          anomaly_count: 0,
          series_count: 0,
          peak_score: event.breachProbability ?? 0,
          version,
        },
      ],
    });
  }

  async close(): Promise<void> {}
}
