import type { AlertEvent } from '../alerts/alert.js';

/**
 * One step of the analyzer cycle: anomaly scoring, failure prediction or
 * exception fingerprinting. The service runs every stage once per cycle, in
 * order, and hands the events they return to alert delivery.
 */
export interface AnalyzerStage {
  readonly name: string;
  /** Analyzes the store as of `now` and returns the incident changes it caused. */
  run(now: Date): Promise<AlertEvent[]>;
}
