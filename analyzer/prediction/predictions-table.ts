import type { ClickHouseClient } from '@clickhouse/client';
import type { Prediction } from './predict.js';

export const PREDICTIONS_TABLE = 'predictions';

/** A `predictions` row in its ClickHouse column names; the indicators are the flattened `Nested` columns. */
interface PredictionRow {
  ts: string;
  workflow: string;
  integration: string;
  plant: string;
  horizon_seconds: number;
  probability: number;
  threshold: number;
  alerted: boolean;
  predicted_breach_at: string | null;
  objective_seconds: number;
  lag_seconds: number | null;
  'indicators.name': string[];
  'indicators.value': number[];
  'indicators.description': string[];
  model_version: string;
}

/** Inserts predictions into `predictions` in one insert. */
export async function writePredictions(client: ClickHouseClient, predictions: readonly Prediction[]): Promise<void> {
  if (predictions.length === 0) return;
  await client.insert({
    table: PREDICTIONS_TABLE,
    values: predictions.map(toPredictionRow),
    format: 'JSONEachRow',
  });
}

function toPredictionRow(prediction: Prediction): PredictionRow {
  return {
    ts: formatDateTime64(prediction.at),
    workflow: prediction.workflow,
    integration: prediction.integration,
    plant: prediction.plant,
    horizon_seconds: prediction.horizonSeconds,
    probability: prediction.probability,
    threshold: prediction.threshold,
    alerted: prediction.alerted,
    predicted_breach_at: prediction.predictedBreachAt === null ? null : formatDateTime64(prediction.predictedBreachAt),
    objective_seconds: prediction.objectiveSeconds,
    lag_seconds: prediction.lagSeconds,
    'indicators.name': prediction.indicators.map((indicator) => indicator.name),
    'indicators.value': prediction.indicators.map((indicator) => indicator.value),
    'indicators.description': prediction.indicators.map((indicator) => indicator.description),
    model_version: prediction.modelVersion,
  };
}

/**
 * Formats a time as `seconds.milliseconds` since the epoch, which a
 * DateTime64(3) column reads the same way in every server time zone. A JSON
 * number with a fraction is not accepted for a Nullable(DateTime64) column.
 */
function formatDateTime64(date: Date): string {
  const epochMs = date.getTime();
  const seconds = Math.floor(epochMs / 1000);
  return `${seconds}.${String(epochMs - seconds * 1000).padStart(3, '0')}`;
}
