/**
 * Events the analyzer hands to alert delivery. One incident is one cause on
 * one integration or workflow. Its events open, update and resolve it, and
 * chat targets keep one message per `incidentId`.
 */
export type AlertState = 'opened' | 'updated' | 'resolved';

/** Ordered from most to least urgent. */
export const ALERT_SEVERITIES = ['critical', 'warning', 'info'] as const;
export type AlertSeverity = (typeof ALERT_SEVERITIES)[number];

/** Part of the analyzer that raised the incident. */
export type AlertKind = 'anomaly' | 'prediction' | 'exception' | 'remediation';

/** A measured value beside what was expected of it. */
export interface AlertMetric {
  /** Series name as stored, such as `lag_seconds` or `latency_p95_seconds`. */
  name: string;
  observed: number;
  /** Unit of `observed`, `expected`, `lower` and `upper`, such as `s`, `messages` or `%`. */
  unit: string;
  expected?: number;
  lower?: number;
  upper?: number;
  /** The workflow's objective in words, such as `p95 within 5m`. */
  objective?: string;
}

/** The exception behind an incident, already redacted. */
export interface AlertException {
  fingerprint: string;
  category: string;
  retryable: boolean;
  sample: string;
  count: number;
}

/** A remediation proposal that an alert offers for approval. */
export interface AlertProposal {
  proposalId: string;
  action: string;
  summary: string;
  expiresAt: Date;
}

export interface AlertEvent {
  incidentId: string;
  state: AlertState;
  kind: AlertKind;
  severity: AlertSeverity;
  /** One line in plant terms, such as `Quality holds from QMS to Odoo lag 14 min in plant-2`. */
  title: string;
  /** Reason the analyzer raised it, in one or two sentences a person can check. */
  explanation: string;
  integration?: string;
  workflow?: string;
  plant?: string;
  metric?: AlertMetric;
  window?: { start: Date; end: Date };
  /** Predicted time at which the workflow breaks its objective. */
  predictedBreachAt?: Date;
  breachProbability?: number;
  exception?: AlertException;
  correlationIds?: string[];
  proposals?: AlertProposal[];
  /** Time of the change this event reports. */
  at: Date;
}

/** A delivery target for alert events: Slack, a signed webhook, or a test recorder. */
export interface AlertSink {
  readonly name: string;
  send(event: AlertEvent): Promise<void>;
  close(): Promise<void>;
}
