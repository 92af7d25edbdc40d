import { trace, type Tracer } from '@opentelemetry/api';
import type { FastifyInstance } from 'fastify';
import type { SystemProcessConfig } from '../process-protocol.js';
import {
  BURST_DURATION_MS,
  BURST_INTERVAL_MS,
  BURST_RATE_FACTOR,
  CONSUMER_PAUSE_CHECK_INTERVAL_MS,
  CONSUMER_PAUSE_MS,
  CONSUMER_PAUSE_PROBABILITY,
  DUPLICATE_PROBABILITY,
  HTTP_TIMEOUT_MS,
} from '../tunables.js';
import type { DemoWorkflow } from '../workflows.js';
import { RequestTimeoutError, requestJson } from './http-client.js';
import { describeError, type ProcessLogger } from './ipc-logger.js';
import type { JobQueue } from './job-queue.js';
import type { ConsumerHandle, MessageBus } from './message-bus.js';
import {
  buildTransactionHeaders,
  chance,
  createTransaction,
  DemoFailure,
  readTransaction,
  recordSpanError,
  type Transaction,
} from './transactions.js';

/** Idempotency keys a system remembers to detect duplicates. */
export const IDEMPOTENCY_CACHE_SIZE = 5_000;

/** Everything a system module needs: its HTTP server, tracer, queues and peers. */
export interface SystemContext {
  config: SystemProcessConfig;
  app: FastifyInstance;
  tracer: Tracer;
  logger: ProcessLogger;
  bus: MessageBus;
  /** Odoo's job queue, set in the Odoo process only. */
  jobQueue?: JobQueue;
  /** Base URL of each peer, keyed by `buildPeerKey` and filled before traffic starts. */
  peers: Record<string, string>;
  /** Registers a cleanup step that runs when the process stops. */
  onStop(step: () => Promise<void> | void): void;
}

/** A system of the demo network: its routes and consumers, then the traffic it starts. */
export interface SystemModule {
  registerRoutes(context: SystemContext): void;
  startConsumers?(context: SystemContext): Promise<void>;
  startTraffic?(context: SystemContext): void;
}

/** Remembers recently seen idempotency keys. */
export class IdempotencyCache {
  readonly #keys = new Set<string>();

  /** Records a key and returns true when it was seen before. */
  checkAndRecord(key: string): boolean {
    if (this.#keys.has(key)) return true;
    this.#keys.add(key);
    if (this.#keys.size > IDEMPOTENCY_CACHE_SIZE) {
      const oldest = this.#keys.values().next().value as string;
      this.#keys.delete(oldest);
    }
    return false;
  }
}

/** Rejects a request whose idempotency key was already processed, with a 409. */
export function rejectDuplicate(cache: IdempotencyCache, subject: string): void {
  const key = readTransaction()?.idempotencyKey;
  if (key && cache.checkAndRecord(key)) {
    throw new DemoFailure('DuplicateRequestError', `${subject} with idempotency key ${key} was already processed`, 409);
  }
}

/** Returns the factor on transaction rates at `nowMs`: `BURST_RATE_FACTOR` during a burst, else 1. */
export function readRateFactor(nowMs: number): number {
  return nowMs % BURST_INTERVAL_MS < BURST_DURATION_MS ? BURST_RATE_FACTOR : 1;
}

/**
 * Starts transactions of a workflow in a plant at the configured rate, with
 * random gaps around the mean and faster during bursts. Now and then the
 * previous transaction is sent again with the same ids, as a sender that
 * retries after a lost response does.
 */
export function scheduleTransactions(
  context: SystemContext,
  workflow: DemoWorkflow,
  plant: string,
  start: (transaction: Transaction) => Promise<void>,
): void {
  const perMinute = context.config.transactionsPerMinute[workflow];
  if (perMinute <= 0) return;

  const meanGapMs = 60_000 / perMinute;
  let previous: Transaction | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const runNext = () => {
    const replay = previous !== undefined && chance(DUPLICATE_PROBABILITY);
    const transaction = replay && previous ? previous : createTransaction(workflow, plant);
    previous = transaction;
    start(transaction).catch((error) =>
      context.logger.error({ workflow, plant, ...describeError(error) }, 'transaction failed to start'),
    );
    const gapMs = (meanGapMs / readRateFactor(Date.now())) * (0.5 + Math.random());
    if (!stopped) timer = setTimeout(runNext, gapMs);
  };

  timer = setTimeout(runNext, meanGapMs * Math.random());
  context.onStop(() => {
    stopped = true;
    clearTimeout(timer);
  });
}

/**
 * Calls a peer system inside the current transaction and returns the parsed
 * body. Statuses of 400 and above become a `DemoFailure` with the same status.
 */
export async function callPeer(
  context: SystemContext,
  peerKey: string,
  method: 'POST' | 'PUT',
  path: string,
  body: unknown,
): Promise<unknown> {
  const baseUrl = context.peers[peerKey];
  if (!baseUrl) throw new DemoFailure('ConnectionError', `address of system ${peerKey} not found in the peer list`, 502);

  const transaction = readTransaction();
  const headers = transaction ? buildTransactionHeaders(transaction) : {};
  const response = await requestJson(`${baseUrl}${path}`, { method, body, headers, timeoutMs: HTTP_TIMEOUT_MS });
  if (response.statusCode < 400) return response.body;

  const detail = (response.body as { message?: string } | undefined)?.message ?? '';
  throw new DemoFailure(
    errorNameForStatus(response.statusCode),
    `${method} ${peerKey}${path} returned ${response.statusCode}${detail ? `: ${detail}` : ''}`,
    response.statusCode >= 500 || response.statusCode === 429 ? 502 : response.statusCode,
  );
}

function errorNameForStatus(statusCode: number): string {
  if (statusCode === 409) return 'ConflictError';
  if (statusCode === 429) return 'RateLimitError';
  return 'HTTPError';
}

/**
 * Names each server span after its route (`POST /api/production-orders`) and
 * sets `http.route`, which the HTTP instrumentation cannot know.
 */
export function nameServerSpans(app: FastifyInstance): void {
  app.addHook('onRequest', async (request) => {
    const span = trace.getActiveSpan();
    const route = request.routeOptions.url;
    if (!span || !route) return;

    span.updateName(`${request.method} ${route}`);
    span.setAttribute('http.route', route);
  });
}

/**
 * Sends errors of a route as JSON with their status, and records each as an
 * exception event on the server span.
 */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error, _request, reply) => {
    const span = trace.getActiveSpan();
    if (span) recordSpanError(span, error);

    const statusCode = statusCodeOf(error);
    if (statusCode === 429) reply.header('retry-after', '2');
    const failure = error instanceof Error ? error : new Error(String(error));
    void reply.status(statusCode).send({ error: failure.name, message: failure.message });
  });
}

function statusCodeOf(error: unknown): number {
  if (error instanceof DemoFailure) return error.statusCode;
  if (error instanceof RequestTimeoutError) return 504;
  const code = (error as { statusCode?: number }).statusCode;
  return typeof code === 'number' && code >= 400 ? code : 500;
}

/**
 * Now and then stops a consumer for a while, as a worker that is redeployed or
 * stalls does: the queue's lag builds, then drains once the consumer is back.
 */
export function schedulePauses(context: SystemContext, consumer: ConsumerHandle, queue: string): void {
  let resumeTimer: NodeJS.Timeout | undefined;

  const checkTimer = setInterval(() => {
    if (consumer.paused || !chance(CONSUMER_PAUSE_PROBABILITY)) return;

    context.logger.info({ queue, pauseMs: CONSUMER_PAUSE_MS }, 'consumer paused');
    void consumer.pause();
    resumeTimer = setTimeout(() => {
      context.logger.info({ queue }, 'consumer resumed');
      void consumer.resume();
    }, CONSUMER_PAUSE_MS);
  }, CONSUMER_PAUSE_CHECK_INTERVAL_MS);

  context.onStop(() => {
    clearInterval(checkTimer);
    clearTimeout(resumeTimer);
  });
}
