import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, DEFAULT_CONFIG_PATH, loadConfigFile, parseConfigObject, type SyncwatchConfig } from '../config/index.js';
import { createLogger, startService, type RunningService } from '../server/index.js';
import { SCENARIO_KINDS, type ScenarioKind } from '../simulator/scenarios/index.js';
import { migrate, MIGRATIONS, openClickHouse, resolveStoreOptions, storeCluster } from '../store/index.js';
import { ClassifyUsageError, runClassifyCommand } from './classify-command.js';
import { DashboardsUsageError, runDashboardsCommand } from './dashboards-command.js';
import { runDemoCommand } from './demo-command.js';
import { runDetectCommand } from './detect-command.js';
import { runEvalNab } from './eval-nab-command.js';
import {
  EvalPredictUsageError,
  formatEvalPredictReport,
  parseSeedRange,
  runEvalPredict,
  writeEvalPredictFiles,
} from './eval-predict-command.js';
import { runSqlCommand, type SqlOutputFormat } from './sql-command.js';

const USAGE = `usage: syncwatch <command> [options]

commands:
  serve                 run the collector and the query API
  demo                  run syncwatch with a simulated production network sending it traces and lag
  sql "<query>"         run one read-only ClickHouse query, through the running service when there is one
  migrate               apply the ClickHouse schema migrations and exit
  check-config          validate the configuration file and exit
  dashboards build      write the Grafana dashboard JSON and provisioning files to --out
  detect                score a timestamp,value CSV (--input) into timestamp,value,anomaly_score (--output)
  eval nab              score every file of a NAB data folder (--data) into a results folder (--out)
  eval predict          train the breach model on scenario seeds outside --seeds, replay the held-out seeds
                        and print precision, recall and lead time beside a static threshold alert
  classify              label exceptions of a JSON Lines file (--input) and write one label per line (--output)

options:
  -c, --config <file>   configuration file (default ${DEFAULT_CONFIG_PATH}; serve starts without sources when it is absent)
  -f, --format <fmt>    sql output: table, json (one object per line) or tsv (default table)
      --duration <sec>  demo: stop after this many seconds (default: run until interrupted)
      --scenario <name> demo: replay a failure scenario live beside the network's own traffic
                        (partner_slowdown, consumer_crash, shift_change_burst, month_end_batch,
                        plant_network_outage, expiring_credentials, dead_letter_leak)
      --history <dur>   demo: normal traffic of the scenario written before it starts, such as 2d or 0m
                        (default 2d, the history the analyzer learns its baselines from)
      --seeds <A..B>    eval predict: held-out scenario seeds, inclusive
                        (with --out: also writes the report and a lead-time chart there)
      --out <dir>       dashboards build, eval: output folder (created when absent)
      --input <file>    detect: series CSV with timestamp and value columns
      --output <file>   detect: scored CSV to write
      --data <dir>      eval nab: NAB root or its data folder (<category>/<file>.csv)
      --labels          classify: require reference labels on every line and print accuracy and confusion
      --grafana-path <dir>
                        dashboards build: absolute path where Grafana's container mounts --out
  -h, --help            show this text
  -v, --version         print the version
`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      format: { type: 'string', short: 'f', default: 'table' },
      duration: { type: 'string' },
      out: { type: 'string' },
      'grafana-path': { type: 'string' },
      input: { type: 'string' },
      output: { type: 'string' },
      data: { type: 'string' },
      labels: { type: 'boolean' },
      scenario: { type: 'string' },
      history: { type: 'string' },
      seeds: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
    },
  });
  const [command, ...rest] = positionals;
  if (values.version) {
    process.stdout.write(`${readVersion()}\n`);
    return 0;
  }
  if (values.help || command === undefined) {
    process.stdout.write(USAGE);
    return values.help ? 0 : 2;
  }

  if (command !== 'sql' && command !== 'dashboards' && command !== 'eval' && rest.length > 0) {
    throw new UsageError(`unexpected argument "${rest[0]}" after ${command}; run syncwatch --help for its options`);
  }

  switch (command) {
    case 'serve': {
      const config = readConfig(values.config);
      const logger = createLogger();
      const service = await startService({ config, logger });
      await waitForSignal(service);
      return 0;
    }
    case 'demo': {
      const config = readConfig(values.config);
      const durationSeconds = values.duration === undefined ? undefined : parsePositiveNumber(values.duration, '--duration');
      const scenario = values.scenario === undefined ? undefined : parseScenario(values.scenario);
      if (values.history !== undefined && scenario === undefined) throw new UsageError('--history needs --scenario');
      const historyMinutes = values.history === undefined ? undefined : parseHistoryMinutes(values.history);
      return runDemoCommand({ config, durationSeconds, scenario, historyMinutes });
    }
    case 'sql': {
      const query = rest.join(' ').trim();
      if (!query) throw new UsageError('sql needs a query, for example: syncwatch sql "SELECT count() FROM otel_traces"');
      const format = parseFormat(values.format);
      const config = readConfig(values.config);
      process.stdout.write(`${await runSqlCommand({ query, format, store: config.store })}\n`);
      return 0;
    }
    case 'migrate': {
      const config = readConfig(values.config);
      const storeOptions = resolveStoreOptions(config.store);
      const client = openClickHouse(storeOptions);
      const result = await migrate(client, MIGRATIONS, { cluster: storeCluster(storeOptions) });
      await client.close();
      process.stdout.write(`applied: ${result.applied.join(', ') || 'none'}; already applied: ${result.alreadyApplied.join(', ') || 'none'}\n`);
      return 0;
    }
    case 'check-config': {
      const path = values.config ?? DEFAULT_CONFIG_PATH;
      const config = loadConfigFile(path);
      process.stdout.write(
        `${path} is valid: ${config.integrations.length} integrations, ${config.workflows.length} workflows, ${config.sources.length} sources\n`,
      );
      return 0;
    }
    case 'dashboards': {
      if (rest.length > 1) throw new UsageError(`unexpected argument "${rest[1]}" after dashboards ${rest[0]}`);
      process.stdout.write(`${runDashboardsCommand({ subcommand: rest[0], outDir: values.out, grafanaPath: values['grafana-path'] })}\n`);
      return 0;
    }
    case 'detect': {
      if (values.input === undefined || values.output === undefined) {
        throw new UsageError('detect needs --input <series.csv> and --output <scores.csv>');
      }
      const result = await runDetectCommand({ input: values.input, output: values.output });
      process.stdout.write(`scored ${result.rows} rows, ${result.alarms} alarms; wrote ${values.output}\n`);
      return 0;
    }
    case 'eval': {
      const [subcommand, ...extra] = rest;
      if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}" after eval ${subcommand}`);
      switch (subcommand) {
        case 'nab': {
          if (values.data === undefined || values.out === undefined) {
            throw new UsageError('eval nab needs --data <NAB folder> and --out <results folder>');
          }
          await runEvalNab({ data: values.data, out: values.out, progress: (line) => process.stdout.write(`${line}\n`) });
          return 0;
        }
        case 'predict': {
          if (values.seeds === undefined) throw new UsageError('eval predict needs --seeds <first..last>, such as --seeds 100..119');
          const { horizon, threshold } = readConfig(values.config).analyzer.prediction;
          const report = await runEvalPredict({
            ...parseSeedRange(values.seeds),
            horizonSeconds: horizon / 1000,
            threshold,
            progress: (line) => process.stderr.write(`${line}\n`),
          });
          const text = formatEvalPredictReport(report, horizon / 1000, threshold);
          process.stdout.write(`${text}\n`);
          if (values.out !== undefined) {
            process.stdout.write(`wrote ${writeEvalPredictFiles(report, text, values.out).join(' and ')}\n`);
          }
          return 0;
        }
        default:
          throw new UsageError(`unknown eval subcommand "${subcommand ?? ''}"; expected nab or predict`);
      }
    }
    case 'classify': {
      const config = readConfig(values.config);
      const summary = await runClassifyCommand({
        input: values.input,
        output: values.output,
        requireLabels: values.labels === true,
        exceptions: config.analyzer.exceptions,
      });
      process.stdout.write(`${summary}\n`);
      return 0;
    }
    default:
      throw new UsageError(`unknown command "${command}"; run syncwatch --help for the list`);
  }
}

class UsageError extends Error {}

/** Loads the configuration file, or the defaults when no file was named and the default file is absent. */
function readConfig(path: string | undefined): SyncwatchConfig {
  if (path !== undefined) return loadConfigFile(path);
  if (existsSync(DEFAULT_CONFIG_PATH)) return loadConfigFile(DEFAULT_CONFIG_PATH);
  return parseConfigObject({});
}

function parseFormat(value: string | undefined): SqlOutputFormat {
  if (value === 'table' || value === 'json' || value === 'tsv') return value;
  throw new UsageError(`invalid --format "${value}"; expected table, json or tsv`);
}

function parseScenario(value: string): ScenarioKind {
  const kind = SCENARIO_KINDS.find((candidate) => candidate === value);
  if (kind === undefined) throw new UsageError(`invalid --scenario "${value}"; expected one of ${SCENARIO_KINDS.join(', ')}`);
  return kind;
}

function parsePositiveNumber(value: string, option: string): number {
  const number = Number(value);
  if (!Number.isFinite(number) || number <= 0) throw new UsageError(`invalid ${option} "${value}"; expected a positive number of seconds`);
  return number;
}

function parseHistoryMinutes(value: string): number {
  const match = /^(\d+)(m|h|d)$/.exec(value.trim());
  if (!match) throw new UsageError(`invalid --history "${value}"; expected whole minutes, hours or days, such as 90m, 12h or 2d`);
  return Number(match[1]) * { m: 1, h: 60, d: 1440 }[match[2] as 'm' | 'h' | 'd'];
}

function readVersion(): string {
  const packageJson = new URL('../../package.json', import.meta.url);
  return (JSON.parse(readFileSync(packageJson, 'utf8')) as { version: string }).version;
}

/** Resolves after SIGINT or SIGTERM has stopped the service. */
export function waitForSignal(service: RunningService): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      service.stop().then(resolve, resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const isArgumentError = String((error as { code?: unknown }).code ?? '').startsWith('ERR_PARSE_ARGS');
    if (error instanceof ConfigError || error instanceof UsageError || error instanceof DashboardsUsageError || error instanceof ClassifyUsageError || error instanceof EvalPredictUsageError || isArgumentError) {
      process.stderr.write(`syncwatch: ${(error as Error).message}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`syncwatch: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
