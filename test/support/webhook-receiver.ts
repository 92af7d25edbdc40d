import Fastify from 'fastify';
import { verifyWebhook, WEBHOOK_DELIVERY_HEADER, WEBHOOK_SIGNATURE_HEADER, WEBHOOK_TIMESTAMP_HEADER } from '../../alerts/webhook/signature.js';

export interface ReceivedWebhook {
  verified: boolean;
  reason?: string;
  delivery: string | undefined;
  body: unknown;
  status: number;
}

export interface WebhookReceiver {
  url: string;
  received: ReceivedWebhook[];
  /** Statuses to return, in order, before falling back to 200; `retryAfter` adds the header in seconds. */
  respondWith: Array<{ status: number; retryAfter?: number }>;
  close(): Promise<void>;
}

/** Starts a loopback receiver that checks each delivery's signature as a real receiver should, on the raw body. */
export async function startWebhookReceiver(secret: string): Promise<WebhookReceiver> {
  const app = Fastify({ logger: false });
  const received: ReceivedWebhook[] = [];
  const respondWith: WebhookReceiver['respondWith'] = [];
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  app.post('/hook', async (request, reply) => {
    const raw = request.body as Buffer;
    const header = (name: string) => {
      const value = request.headers[name];
      return Array.isArray(value) ? value[0] : value;
    };
    const check = verifyWebhook({
      secret,
      rawBody: raw,
      timestampHeader: header(WEBHOOK_TIMESTAMP_HEADER),
      signatureHeader: header(WEBHOOK_SIGNATURE_HEADER),
      now: new Date(),
    });
    const planned = respondWith.shift() ?? { status: check.ok ? 200 : 401 };
    received.push({
      verified: check.ok,
      ...(check.ok ? {} : { reason: check.reason }),
      delivery: header(WEBHOOK_DELIVERY_HEADER),
      body: JSON.parse(raw.toString('utf8')) as unknown,
      status: planned.status,
    });
    if (planned.retryAfter !== undefined) reply.header('retry-after', String(planned.retryAfter));
    return reply.status(planned.status).send({ ok: planned.status < 300 });
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { url: `http://127.0.0.1:${port}/hook`, received, respondWith, close: () => app.close() };
}
