import { randomUUID } from 'node:crypto';
import {
  context,
  propagation,
  SpanStatusCode,
  trace,
  type Context,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { DEMO_WORKFLOWS, type DemoWorkflow } from '../workflows.js';

/** HTTP headers that carry the transaction ids next to the W3C baggage header. */
export const CORRELATION_ID_HEADER = 'x-correlation-id';
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';

/** Ids and labels of one business transaction. */
export interface Transaction {
  workflow: DemoWorkflow;
  plant: string;
  integration: string;
  correlationId: string;
  idempotencyKey: string;
}

/** Creates a new transaction of a workflow in a plant. */
export function createTransaction(workflow: DemoWorkflow, plant: string): Transaction {
  const correlationId = randomUUID();
  return {
    workflow,
    plant,
    integration: DEMO_WORKFLOWS[workflow].integration,
    correlationId,
    idempotencyKey: `${workflow}:${plant}:${correlationId.slice(0, 8)}`,
  };
}

/** Returns `parent` with the transaction's ids and labels set as baggage. */
export function setTransactionBaggage(transaction: Transaction, parent: Context): Context {
  const baggage = propagation.createBaggage({
    'syncwatch.correlation_id': { value: transaction.correlationId },
    'syncwatch.idempotency_key': { value: transaction.idempotencyKey },
    'syncwatch.workflow': { value: transaction.workflow },
    'syncwatch.plant': { value: transaction.plant },
    'syncwatch.integration': { value: transaction.integration },
  });
  return propagation.setBaggage(parent, baggage);
}

/** Reads the transaction from the baggage of a context. Returns undefined outside a transaction. */
export function readTransaction(from: Context = context.active()): Transaction | undefined {
  const baggage = propagation.getBaggage(from);
  const value = (key: string) => baggage?.getEntry(key)?.value;
  const workflow = value('syncwatch.workflow');
  const correlationId = value('syncwatch.correlation_id');
  if (!workflow || !correlationId || !(workflow in DEMO_WORKFLOWS)) return undefined;

  return {
    workflow: workflow as DemoWorkflow,
    plant: value('syncwatch.plant') ?? 'unknown',
    integration: value('syncwatch.integration') ?? DEMO_WORKFLOWS[workflow as DemoWorkflow].integration,
    correlationId,
    idempotencyKey: value('syncwatch.idempotency_key') ?? correlationId,
  };
}

/** Headers that repeat the transaction ids for systems that do not read baggage. */
export function buildTransactionHeaders(transaction: Transaction): Record<string, string> {
  return {
    [CORRELATION_ID_HEADER]: transaction.correlationId,
    [IDEMPOTENCY_KEY_HEADER]: transaction.idempotencyKey,
  };
}

/**
 * An error the demo injects, named like the exception the real system raises
 * (`odoo.exceptions.UserError`, `psycopg2.errors.LockNotAvailable`).
 */
export class DemoFailure extends Error {
  constructor(
    name: string,
    message: string,
    readonly statusCode = 500,
  ) {
    super(message);
    this.name = name;
  }
}

/** Marks a span as failed and adds an exception event. */
export function recordSpanError(span: Span, error: unknown): void {
  const exception = error instanceof Error ? error : new Error(String(error));
  span.recordException(exception);
  span.setStatus({ code: SpanStatusCode.ERROR, message: `${exception.name}: ${exception.message}` });
}

/**
 * Runs the first step of a transaction in a new root span that carries the
 * transaction as baggage, so every later span of it (here and in other
 * systems) gets the same attributes. Errors end the span as failed and are not
 * rethrown: a failed transaction is normal demo traffic.
 */
export async function runTransaction(
  tracer: Tracer,
  spanName: string,
  transaction: Transaction,
  step: (span: Span) => Promise<void>,
): Promise<void> {
  const transactionContext = setTransactionBaggage(transaction, trace.deleteSpan(context.active()));
  await tracer.startActiveSpan(spanName, {}, transactionContext, async (span) => {
    try {
      await step(span);
    } catch (error) {
      recordSpanError(span, error);
    } finally {
      span.end();
    }
  });
}

/** Returns true with the given probability. */
export function chance(probability: number): boolean {
  return Math.random() < probability;
}

/** Returns a random integer between `min` and `max`, both included. */
export function randomBetween(min: number, max: number): number {
  return Math.floor(min + Math.random() * (max - min + 1));
}

/** Picks a random element of a non-empty list. */
export function pickOne<T>(items: readonly T[]): T {
  return items[Math.floor(Math.random() * items.length)] as T;
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
