import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  trace,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { createBusMessage, type BusMessage, type MessageBus } from './message-bus.js';
import { buildTransactionHeaders, readTransaction, recordSpanError } from './transactions.js';

/**
 * Publishes a message in a PRODUCER span. The W3C `traceparent` and `baggage`
 * of that span go into the message headers, so the consumer continues the trace.
 */
export async function publishMessage(
  tracer: Tracer,
  bus: MessageBus,
  queue: string,
  body: unknown,
): Promise<void> {
  const transaction = readTransaction();
  await tracer.startActiveSpan(
    `${queue} publish`,
    {
      kind: SpanKind.PRODUCER,
      attributes: {
        'messaging.system': bus.system,
        'messaging.operation.type': 'send',
        'messaging.operation.name': 'publish',
        'messaging.destination.name': queue,
      },
    },
    async (span) => {
      try {
        const headers: Record<string, string> = transaction ? buildTransactionHeaders(transaction) : {};
        propagation.inject(context.active(), headers);
        const message = createBusMessage(body, headers);
        span.setAttribute('messaging.message.id', message.id);
        if (transaction) span.setAttribute('messaging.message.conversation_id', transaction.correlationId);
        await bus.publish(queue, message);
      } catch (error) {
        recordSpanError(span, error);
        throw error;
      } finally {
        span.end();
      }
    },
  );
}

/**
 * Runs a message handler in a CONSUMER span whose parent is the producer span
 * named by the message's `traceparent` header. A handler error fails the span
 * and is rethrown, so the bus drops the message.
 */
export async function processMessage(
  tracer: Tracer,
  bus: MessageBus,
  queue: string,
  message: BusMessage,
  handle: (span: Span) => Promise<void>,
): Promise<void> {
  const parent = propagation.extract(ROOT_CONTEXT, message.headers);
  const waitedMs = Math.max(0, Date.now() - message.publishedAtMs);
  const span = tracer.startSpan(
    `${queue} process`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        'messaging.system': bus.system,
        'messaging.operation.type': 'process',
        'messaging.operation.name': 'process',
        'messaging.destination.name': queue,
        'messaging.message.id': message.id,
        'syncwatch.queue_wait_ms': waitedMs,
      },
    },
    parent,
  );
  try {
    await context.with(trace.setSpan(parent, span), () => handle(span));
  } catch (error) {
    recordSpanError(span, error);
    throw error;
  } finally {
    span.end();
  }
}
