/**
 * Tunables of the demo production network. Rates are per plant and per minute
 * at a rate multiplier of 1.
 */

/** Plants the demo runs. Each plant has its own MES process. */
export const DEMO_PLANTS: readonly string[] = ['plant-a', 'plant-b'];

/** Started transactions per plant and minute, by workflow. */
export const TRANSACTIONS_PER_MINUTE = {
  production_order_release: 10,
  material_consumption: 20,
  quality_hold: 4,
  shipment_milestone: 8,
  supplier_confirmation: 10,
} as const;

/** Probability that one hop of a transaction fails in a realistic way. */
export const FAILURE_PROBABILITY = 0.05;

/** Probability that a sender replays the previous transaction with the same idempotency key. */
export const DUPLICATE_PROBABILITY = 0.03;

/** Timeout of every REST call between systems. */
export const HTTP_TIMEOUT_MS = 2_000;

/** Time a system takes to respond to a REST call, before any injected delay. */
export const HTTP_HANDLER_DELAY_MIN_MS = 10;
export const HTTP_HANDLER_DELAY_MAX_MS = 120;

/** How long a queue consumer works on one message. */
export const MESSAGE_PROCESSING_MIN_MS = 100;
export const MESSAGE_PROCESSING_MAX_MS = 900;

/** Maximum unacknowledged messages per queue consumer. */
export const CONSUMER_PREFETCH = 2;

/** How often a consumer may pause, the chance it does, and for how long. */
export const CONSUMER_PAUSE_CHECK_INTERVAL_MS = 30_000;
export const CONSUMER_PAUSE_PROBABILITY = 0.35;
export const CONSUMER_PAUSE_MS = 45_000;

/**
 * Load peaks such as a shift change: every `BURST_INTERVAL_MS` of wall-clock
 * time, all systems start transactions `BURST_RATE_FACTOR` times faster for
 * `BURST_DURATION_MS`.
 */
export const BURST_INTERVAL_MS = 300_000;
export const BURST_DURATION_MS = 30_000;
export const BURST_RATE_FACTOR = 4;

/** How often the Odoo job runner looks for pending jobs. */
export const JOB_RUNNER_INTERVAL_MS = 500;

/** Jobs the Odoo job runner moves from pending to enqueued per pass. */
export const JOB_RUNNER_BATCH_SIZE = 5;

/** How long one Odoo job runs. */
export const JOB_EXECUTION_MIN_MS = 100;
export const JOB_EXECUTION_MAX_MS = 1_500;

/** Probability that a started job never finishes (its worker hangs). */
export const JOB_STUCK_PROBABILITY = 0.02;

/** Probability that a new job is created with an `eta` in the future. */
export const JOB_DELAYED_ETA_PROBABILITY = 0.1;
export const JOB_DELAYED_ETA_MS = 30_000;

/** Retries of a job that hit a retryable error, and the wait before each retry. */
export const JOB_MAX_RETRIES = 3;
export const JOB_RETRY_DELAY_MS = 5_000;

/** How often span batches are exported to the collector. */
export const SPAN_EXPORT_INTERVAL_MS = 2_000;

/** How long the network waits for RabbitMQ and PostgreSQL before using in-process queues. */
export const CONNECT_TIMEOUT_MS = 2_000;

/**
 * How long a system process gets to report that it is ready. Each process
 * loads the OpenTelemetry SDK and fastify, and all of them start at once, so
 * on a loaded machine the start takes far longer than the second or two it
 * takes on an idle one.
 */
export const PROCESS_START_TIMEOUT_MS = 60_000;

/** How long a system process gets to stop after SIGTERM before SIGKILL. */
export const PROCESS_STOP_TIMEOUT_MS = 5_000;

/** Last bytes of a system process's stderr output kept for a start error. */
export const PROCESS_STDERR_TAIL_BYTES = 4_096;

/**
 * How long a stopping message bus waits for the handlers of delivered messages
 * to finish before it closes the connection. It stays below
 * `PROCESS_STOP_TIMEOUT_MS`, so the process can still flush its spans.
 */
export const MESSAGE_DRAIN_TIMEOUT_MS = 2_500;

/** Poll interval of the in-process lag sources. */
export const IN_PROCESS_POLL_INTERVAL_MS = 5_000;

/** Default RabbitMQ and PostgreSQL of the demo, overridable by environment variables. */
export const DEFAULT_RABBITMQ_URL = 'amqp://guest:guest@127.0.0.1:5672';
export const DEFAULT_PG_URL = 'postgres://postgres@127.0.0.1:5432/test';

/**
 * Base names of one run's resources. A run appends its run id, so its queues
 * are `demo.<run id>.mes.material_consumption` and so on, and its schema is
 * `syncwatch_demo_<run id>`.
 */
export const QUEUE_PREFIX_BASE = 'demo';
export const QUEUE_JOB_SCHEMA_BASE = 'syncwatch_demo';

/** Random bytes of a run id, which is written as twice as many hex digits. */
export const RUN_ID_BYTES = 3;
