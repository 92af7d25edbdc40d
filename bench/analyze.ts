/**
 * Analyzer benchmark: 10,000 lag series of one-minute points over 7 days
 * (100,800,000 rows of `integration_lag`) in an embedded chDB store in a
 * temporary directory, then the anomaly stage on them.
 *
 * The rows are generated inside ClickHouse with `INSERT ... SELECT FROM
 * numbers()`: a daily cycle, a burst after each shift change at 06:00, 14:00
 * and 22:00, and noise. Series are 1,000 integrations times 10 plants. The
 * stage first learns each series from the last `--restore-h` hours, as a
 * service start does. Then one more minute arrives for every series and one
 * full analyzer cycle runs the aggregation query, the detector on every
 * series and the writes. Its time is compared with a bare
 * GROUP BY scan of the same rows, the same per-minute aggregation with only
 * a count returned.
 *
 * Run with `npm run bench:analyze`; `--series`, `--days` and `--restore-h`
 * change the defaults below.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { AnomalyStage } from '../analyzer/anomaly/stage.js';
import { migrate, MIGRATIONS, openClickHouse } from '../store/index.js';

const DEFAULT_SERIES = 10_000;
const DEFAULT_DAYS = 7;
const DEFAULT_RESTORE_HOURS = 6;
const PLANTS = 10;
const MINUTE_MS = 60_000;
const GOAL_CYCLE_MS = 5_000;
/** Rows per generating INSERT, so memory stays bounded. */
const ROWS_PER_INSERT = 10_000_000;

function toClickHouseTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

/** Rows `[first, first + count)` of the generated data, series-major: row = series * minutes + minute. */
function generateStatement(startMs: number, minutes: number, first: number, count: number): string {
  return `
INSERT INTO integration_lag (observed_at, integration, workflow, source, source_kind, entity, status, lag_seconds, lag_estimated, attributes)
SELECT
    toDateTime64(${startMs / 1000} + (n % ${minutes}) * 60 + 5, 3) AS observed_at,
    concat('int-', leftPad(toString(intDiv(intDiv(n, ${minutes}), ${PLANTS})), 4, '0')) AS integration,
    'shipment_milestones',
    concat(integration, '-queue'),
    'rabbitmq',
    'outbound',
    'ok',
    5 + 3 * sin(2 * pi() * ((n % ${minutes}) % 1440) / 1440)
        + if(((n % ${minutes}) % 1440) IN (360, 361, 362, 363, 364, 840, 841, 842, 843, 844, 1320, 1321, 1322, 1323, 1324), 20, 0)
        + (cityHash64(n) % 1000) / 500,
    false,
    map('plant', concat('plant-', toString(intDiv(n, ${minutes}) % ${PLANTS})))
FROM (SELECT number + ${first} AS n FROM numbers(${count}))
SETTINGS max_insert_threads = 2`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      series: { type: 'string', default: String(DEFAULT_SERIES) },
      days: { type: 'string', default: String(DEFAULT_DAYS) },
      'restore-h': { type: 'string', default: String(DEFAULT_RESTORE_HOURS) },
    },
  });
  const seriesCount = Number(values.series);
  const minutes = Number(values.days) * 1440;
  const restoreMs = Number(values['restore-h']) * 3_600_000;
  if (seriesCount % PLANTS !== 0) throw new Error(`invalid --series ${values.series}: expected a multiple of ${PLANTS}`);

  const dataDir = mkdtempSync(join(tmpdir(), 'syncwatch-bench-analyze-'));
  const client = openClickHouse({ kind: 'embedded', dataDir });
  try {
    await migrate(client, MIGRATIONS);
    const endMs = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS;
    const startMs = endMs - minutes * MINUTE_MS;
    const totalRows = seriesCount * minutes;
    process.stdout.write(`loading ${seriesCount} series x ${minutes} minutes = ${totalRows.toLocaleString('en-US')} rows\n`);
    const loadStarted = performance.now();
    for (let first = 0; first < totalRows; first += ROWS_PER_INSERT) {
      const count = Math.min(ROWS_PER_INSERT, totalRows - first);
      await client.command({ query: generateStatement(startMs, minutes, first, count) });
      process.stdout.write(`  ${(first + count).toLocaleString('en-US')} rows, ${seconds(performance.now() - loadStarted)}\n`);
    }
    const loadMs = performance.now() - loadStarted;

    const stage = new AnomalyStage({ client, restoreWindowMs: restoreMs });
    const restoreStarted = performance.now();
    await stage.run(new Date(endMs - MINUTE_MS + 1_000));
    const restoreMsTaken = performance.now() - restoreStarted;
    const restore = stage.lastCycle!;

    // The last minute arrives: one row per series, already in the store from the load.
    const cycleStarted = performance.now();
    const events = await stage.run(new Date(endMs + 1_000));
    const cycleMs = performance.now() - cycleStarted;
    const cycle = stage.lastCycle!;

    const bareQuery = `
SELECT count() FROM (
    SELECT integration, workflow, attributes['plant'] AS plant, toStartOfMinute(observed_at) AS minute, max(lag_seconds) AS value
    FROM integration_lag
    WHERE observed_at >= {start:DateTime64(3)} AND observed_at < {end:DateTime64(3)} AND status = 'ok' AND lag_seconds IS NOT NULL
    GROUP BY integration, workflow, plant, minute
)`;
    const bareStarted = performance.now();
    const bare = await client.query({
      query: bareQuery,
      query_params: { start: toClickHouseTime(endMs - MINUTE_MS), end: toClickHouseTime(endMs) },
      format: 'JSONEachRow',
    });
    const bareRows = await bare.json<{ 'count()': string }>();
    const bareMs = performance.now() - bareStarted;

    const fullStarted = performance.now();
    const full = await client.query({
      query: bareQuery,
      query_params: { start: toClickHouseTime(startMs), end: toClickHouseTime(endMs) },
      format: 'JSONEachRow',
    });
    await full.json();
    const fullMs = performance.now() - fullStarted;

    const lines = [
      '',
      `load: ${totalRows.toLocaleString('en-US')} rows in ${seconds(loadMs)}`,
      `restore (first cycle, last ${values['restore-h']} h): ${restore.points.toLocaleString('en-US')} points of ${restore.series} series in ${seconds(restoreMsTaken)}`,
      `cycle: ${cycle.points.toLocaleString('en-US')} points of ${cycle.series} series, ${cycle.anomalies} anomalies, ${events.length} events in ${seconds(cycleMs)} ` +
        `(query and scoring ${seconds(cycle.queryAndScoreMs)}, writes ${seconds(cycle.writeMs)})`,
      `bare GROUP BY of the same minute: ${bareRows[0]?.['count()']} groups in ${seconds(bareMs)}; cycle / bare = ${(cycleMs / bareMs).toFixed(1)}`,
      `bare GROUP BY of all ${values.days} days: ${seconds(fullMs)}`,
      `goal: cycle under ${seconds(GOAL_CYCLE_MS)}: ${cycleMs < GOAL_CYCLE_MS ? 'met' : 'missed'}`,
      `rss: ${Math.round(process.memoryUsage().rss / 1024 / 1024)} MiB`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await client.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:analyze failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exitCode = 1;
});
