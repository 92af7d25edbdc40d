import type { ClickHouseClient } from '@clickhouse/client';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { AlertSink } from '../alerts/alert.js';
import { createAlertSinks, createAuditLogAdapter, type AlertDelivery } from '../alerts/index.js';
import { AnomalyStage } from '../analyzer/anomaly/stage.js';
import { createExceptionStage } from '../analyzer/exceptions/index.js';
import { AnalyzerLoop, type AnalyzerCycleResult } from '../analyzer/loop.js';
import { IncidentRecorder } from '../analyzer/incident-recorder.js';
import { createPredictionStage } from '../analyzer/prediction/index.js';
import type { AnalyzerStage } from '../analyzer/stage.js';
import { writeWorkflowObjectives } from '../analyzer/workflows/index.js';
import { createClientBatchInserter, openIngest, type Ingest } from '../collector/ingest/index.js';
import { createLagWriter } from '../collector/lag-writer.js';
import { registerOtlpReceiver } from '../collector/otlp/index.js';
import { createSource, startSourcePolling, type LagSource } from '../collector/sources/index.js';
import { createBatchedTraceWriter } from '../collector/trace-writer.js';
import type { SyncwatchConfig } from '../config/index.js';
import { appendAudit } from '../remediation/audit.js';
import { openRemediation, type Remediation } from '../remediation/index.js';
import { describeStore, migrate, MIGRATIONS, openClickHouse, resolveStoreOptions, storeCluster } from '../store/index.js';
import { buildApiServer } from './api-server.js';
import type { ApiToken } from './auth.js';
import type { Logger } from './logger.js';
import { createMetricsRegistry, type SyncwatchMetrics } from './metrics.js';
import { ensureLocalApiToken, removeServiceRecord, writeServiceRecord } from './runtime-files.js';
import {
  isLoopbackHost,
  SELF_OTLP_ENDPOINT_ENV,
  startSelfTelemetry,
  instrumentLagSource,
  traceBatchInserter,
} from './telemetry.js';

/** Time a client has to send one whole OTLP request, in milliseconds. */
const OTLP_REQUEST_TIMEOUT_MS = 30_000;

export interface ServiceOptions {
  config: SyncwatchConfig;
  logger: Logger;
  /** Sources built outside the configuration, such as the demo's in-process queues. */
  extraSources?: LagSource[];
  /** Alert targets beside the configured ones, such as a test recorder. */
  alertSinks?: AlertSink[];
  /** Writes into the store after the migrations and before polling and analysis start, such as the demo's scenario history. */
  beforeStart?: (client: ClickHouseClient) => Promise<void>;
  /** Time of polls and analyzer cycles. Default: the system clock. Tests replay scenarios on a simulated one. */
  clock?: () => Date;
}

/** A running syncwatch service. */
export interface RunningService {
  client: ClickHouseClient;
  otlpUrl: string;
  apiUrl: string;
  /** Self-metrics served at the API's `GET /metrics`. */
  metrics: SyncwatchMetrics;
  /** Batched, spooled writes into the store; `drain()` waits until the spool is replayed. */
  ingest: Ingest;
  /** Proposals, approvals and their execution, on the control-plane store. */
  remediation: Remediation;
  /** Slack and webhook targets; analyzer events go to `alerts.send`. */
  alerts: AlertDelivery;
  /** Polls every source once, now; used by tests and the demo. */
  pollNow(): Promise<void>;
  /** Runs one analyzer cycle as of `now` and delivers its events; used by tests. */
  runAnalyzerCycle(now?: Date): Promise<AnalyzerCycleResult>;
  stop(): Promise<void>;
}

/**
 * Starts the collector and the query API on one store: applies migrations,
 * listens for OTLP/HTTP traces, polls every configured source, and records
 * itself in the data directory so local commands can reach it.
 */
export async function startService(options: ServiceOptions): Promise<RunningService> {
  const storeOptions = resolveStoreOptions(options.config.store);
  const client = openClickHouse(storeOptions);
  // Closes what started so far when a later step fails, such as a port in use, so the store's lock is released.
  const undo: Array<() => unknown> = [() => client.close()];
  try {
    return await startOnStore(options, client, storeOptions, undo);
  } catch (error) {
    for (const step of undo.reverse()) {
      await Promise.resolve()
        .then(step)
        .catch((closeError: unknown) => options.logger.warn({ err: closeError }, 'closing after a failed start failed'));
    }
    throw error;
  }
}

async function startOnStore(
  options: ServiceOptions,
  client: ClickHouseClient,
  storeOptions: ReturnType<typeof resolveStoreOptions>,
  undo: Array<() => unknown>,
): Promise<RunningService> {
  const { config, logger } = options;
  const storeDescription = describeStore(storeOptions);

  const migration = await migrate(client, MIGRATIONS, { cluster: storeCluster(storeOptions) });
  logger.info({ store: storeDescription, applied: migration.applied }, 'store ready');
  const objectives = await writeWorkflowObjectives(client, config.workflows);
  logger.info({ workflows: objectives.active, deactivated: objectives.deactivated }, 'workflow objectives written');
  await options.beforeStart?.(client);
  const remediationLogger = logger.child({ component: 'remediation' });
  const remediation = await openRemediation({ config, client, logger: remediationLogger });
  undo.push(() => remediation.close());
  // Executions a previous run left unfinished resume in the background, skipping their finished targets.
  remediation.runPendingExecutions().catch((error: unknown) => remediationLogger.error({ err: error }, 'resuming executions failed'));

  // Integrations export every few seconds, so one log line per request would drown the rest;
  // the receiver logs rejected requests itself.
  const otlp = Fastify({
    loggerInstance: logger.child({ component: 'otlp' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    // A client that announces more body than it sends is cut off, instead of holding a socket.
    requestTimeout: OTLP_REQUEST_TIMEOUT_MS,
  });
  undo.push(() => otlp.close());
  const metrics = createMetricsRegistry();
  const ingest = await openIngest({
    inserter: traceBatchInserter(createClientBatchInserter(client)),
    dataDir: config.store.dataDir,
    logger: logger.child({ component: 'ingest' }),
    metrics,
  });
  undo.push(() => ingest.close());
  registerOtlpReceiver(otlp, {
    writer: createBatchedTraceWriter(ingest),
    maxBodyBytes: config.collector.otlp.maxBodyBytes,
    tokens: config.collector.otlp.tokens,
    metrics,
  });

  const tokens: ApiToken[] = [...config.api.tokens];
  tokens.push({ name: 'local', token: ensureLocalApiToken(config.store.dataDir), scopes: ['sql'] });
  const api = buildApiServer({
    client,
    tokens,
    logger,
    storeDescription,
    metrics,
    rateLimit: { max: config.api.rateLimit.max, windowMs: config.api.rateLimit.window },
    remediation,
  });
  undo.push(() => api.close());
  // Slack clicks are decided by the remediation layer; requests rejected before that go to its audit log.
  const alerts = createAlertSinks(config.alerts, {
    logger,
    dataDir: config.store.dataDir,
    workflows: config.workflows,
    decider: remediation,
    proposals: remediation,
    securityAudit: createAuditLogAdapter((record) => remediation.store.transaction((tx) => appendAudit(tx, record))),
  });
  undo.push(() => alerts.close());
  alerts.registerRoutes(api);

  const analyzerLogger = logger.child({ component: 'analyzer' });
  const analyzerStages: AnalyzerStage[] = [
    new AnomalyStage({ client, logger: analyzerLogger }),
    createExceptionStage(client, config.analyzer.exceptions, analyzerLogger.child({ stage: 'exceptions' })),
    createPredictionStage(config.analyzer.prediction, { client, logger: analyzerLogger.child({ stage: 'prediction' }) }),
  ];
  const analyzer = new AnalyzerLoop({
    stages: analyzerStages,
    sinks: [new IncidentRecorder(client), ...alerts.sinks, ...(options.alertSinks ?? [])],
    // Each event reaches the sinks with its incident's pending proposals attached.
    enrich: (event) => remediation.attachProposals(event),
    intervalMs: config.analyzer.interval,
    clock: options.clock,
    logger: analyzerLogger,
  });

  const sources = [...config.sources.map((source) => createSource(source, { logger })), ...(options.extraSources ?? [])].map(
    (source) => instrumentLagSource(source, metrics),
  );
  undo.push(() => Promise.allSettled(sources.map((source) => source.close())));
  const lagWriter = createLagWriter(client, { rowWriter: ingest });
  const pollingConfig = config.collector.polling;
  const polling = startSourcePolling(sources, lagWriter, {
    logger: logger.child({ component: 'sources' }),
    pollTimeoutMs: pollingConfig.timeout,
    maxConcurrentPolls: pollingConfig.maxConcurrentPolls,
    maxBackoffMs: pollingConfig.maxBackoff,
    seriesRetentionMs: pollingConfig.seriesRetention,
    clock: options.clock,
  });
  undo.push(() => polling.stop());

  const otlpUrl = await listen(otlp, config.collector.otlp.host, config.collector.otlp.port);
  warnIfReceiverOpen(config, logger);
  const telemetry = await startSelfTelemetry({ logger, endpoint: process.env[SELF_OTLP_ENDPOINT_ENV], ownOtlpUrl: otlpUrl });
  undo.push(() => telemetry.shutdown());
  const apiUrl = await listen(api, config.api.host, config.api.port);
  writeServiceRecord(config.store.dataDir, { pid: process.pid, apiUrl, otlpUrl, startedAt: new Date().toISOString() });
  logger.info({ otlpUrl: `${otlpUrl}/v1/traces`, apiUrl, sources: sources.map((source) => source.name) }, 'syncwatch started');
  analyzer.start();

  return {
    client,
    otlpUrl,
    apiUrl,
    metrics,
    ingest,
    remediation,
    alerts,
    pollNow: () => polling.pollNow(),
    runAnalyzerCycle: (now) => analyzer.runCycle(now),
    async stop() {
      removeServiceRecord(config.store.dataDir);
      await analyzer.stop();
      await polling.stop();
      await Promise.allSettled([otlp.close(), api.close()]);
      await Promise.allSettled(sources.map((source) => source.close()));
      await ingest.close();
      await alerts.close();
      await remediation.close();
      await client.close();
      await telemetry.shutdown();
      logger.info('syncwatch stopped');
    },
  };
}

/**
 * Warns when the receiver takes traces without a token on an address other
 * hosts can reach. It starts anyway, so a closed network needs no tokens.
 */
function warnIfReceiverOpen(config: SyncwatchConfig, logger: Logger): void {
  const { host, tokens } = config.collector.otlp;
  if (tokens.length > 0 || isLoopbackHost(host)) return;
  logger.warn(
    { host },
    'otlp receiver accepts traces without a token on a non-loopback address; set collector.otlp.tokens',
  );
}

async function listen(app: FastifyInstance, host: string, port: number): Promise<string> {
  await app.listen({ host, port });
  const address = app.server.address();
  const boundPort = typeof address === 'object' && address ? address.port : port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return `http://${urlHost === '0.0.0.0' ? '127.0.0.1' : urlHost}:${boundPort}`;
}
