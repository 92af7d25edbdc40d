// Code that runs inside a system process of the demo network. The network
// forks system-process.ts as the entry and imports none of these modules itself.
export { RequestTimeoutError, requestJson, type JsonRequestOptions, type JsonResponse } from './http-client.js';
export { createProcessLogger, describeError, sendToParent, type ProcessLogger } from './ipc-logger.js';
export {
  BusJobQueue,
  PgJobQueue,
  type JobExecutor,
  type JobOutcome,
  type JobQueue,
  type OdooJob,
} from './job-queue.js';
export { mesSystem, UNKNOWN_UNITS_OF_MEASURE } from './mes-system.js';
export {
  AmqpMessageBus,
  createBusMessage,
  IpcMessageBus,
  type BusMessage,
  type ConsumerHandle,
  type MessageBus,
  type MessageHandler,
} from './message-bus.js';
export { processMessage, publishMessage } from './messaging.js';
export { ODOO_PRODUCTS, ODOO_UNITS_OF_MEASURE, odooSystem } from './odoo-system.js';
export { qmsSystem } from './qms-system.js';
export { runSystemProcess, SPAN_FLUSH_TIMEOUT_MS } from './run-system.js';
export { supplierPortalSystem, UNKNOWN_PRODUCT_CODES } from './supplier-portal-system.js';
export {
  callPeer,
  IDEMPOTENCY_CACHE_SIZE,
  IdempotencyCache,
  installErrorHandler,
  nameServerSpans,
  readRateFactor,
  rejectDuplicate,
  schedulePauses,
  scheduleTransactions,
  type SystemContext,
  type SystemModule,
} from './system-runtime.js';
export { startTelemetry, TRANSACTION_BAGGAGE_KEYS } from './telemetry.js';
export {
  buildTransactionHeaders,
  chance,
  CORRELATION_ID_HEADER,
  createTransaction,
  DemoFailure,
  IDEMPOTENCY_KEY_HEADER,
  pickOne,
  randomBetween,
  readTransaction,
  recordSpanError,
  runTransaction,
  setTransactionBaggage,
  sleep,
  type Transaction,
} from './transactions.js';
export { wmsSystem } from './wms-system.js';
