import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { alertsConfigSchema } from '../../../alerts/config.js';
import { signWebhook, verifyWebhook } from '../../../alerts/webhook/signature.js';
import { WebhookAlertSink, type WebhookBody } from '../../../alerts/webhook/sink.js';
import { lagAnomaly } from '../../support/alert-events.js';
import { startWebhookReceiver, type WebhookReceiver } from '../../support/webhook-receiver.js';

const SECRET = 'webhook-secret-0123456789';
const logger = pino({ level: 'silent' });
let receiver: WebhookReceiver;

beforeAll(async () => {
  receiver = await startWebhookReceiver(SECRET);
});

beforeEach(() => {
  receiver.received.length = 0;
  receiver.respondWith.length = 0;
});

afterAll(async () => {
  await receiver?.close();
});

function createSink(updateInterval = '200ms', secret = SECRET): WebhookAlertSink {
  const config = alertsConfigSchema.parse({ webhooks: [{ name: 'pager', url: receiver.url, secret, updateInterval }] });
  return new WebhookAlertSink({ config: config.webhooks[0]!, logger, baseBackoffMs: 20 });
}

describe('webhook alert sink', () => {
  it('posts a signed, redacted event', async () => {
    const sink = createSink();
    await sink.send(lagAnomaly({ incidentId: 'inc-hook-1' }));
    await sink.close();
    expect(receiver.received).toHaveLength(1);
    const delivery = receiver.received[0]!;
    expect(delivery.verified).toBe(true);
    const body = delivery.body as WebhookBody;
    expect(body.alertId).toBe('ALERT_LAG_ANOMALY');
    expect(body.foldedUpdates).toBe(1);
    expect(body.event.incidentId).toBe('inc-hook-1');
    expect(body.event.at).toBe('2026-12-04T18:40:00.000Z');
    expect(JSON.stringify(body)).not.toContain('abcdefghijklmnop');
  });

  it('fails verification with the wrong secret', async () => {
    const sink = createSink('200ms', 'another-secret-0123456789');
    await sink.send(lagAnomaly({ incidentId: 'inc-hook-wrong' }));
    await sink.close();
    expect(receiver.received).toHaveLength(1);
    expect(receiver.received[0]!.verified).toBe(false);
  });

  it('retries 503 and honours Retry-After', async () => {
    receiver.respondWith.push({ status: 503, retryAfter: 1 }, { status: 500 });
    const sink = createSink();
    const started = Date.now();
    await sink.send(lagAnomaly({ incidentId: 'inc-hook-retry' }));
    await sink.close();
    expect(receiver.received.map((delivery) => delivery.status)).toEqual([503, 500, 200]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
    const deliveries = new Set(receiver.received.map((delivery) => delivery.delivery));
    expect(deliveries.size).toBe(1);
  });

  it('does not retry a 4xx answer', async () => {
    receiver.respondWith.push({ status: 400 });
    const sink = createSink();
    await sink.send(lagAnomaly({ incidentId: 'inc-hook-400' }));
    await sink.close();
    expect(receiver.received).toHaveLength(1);
  });

  it('does not retry a URL with credentials', async () => {
    const lines: string[] = [];
    const capture = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    const url = `${receiver.url.replace('http://', 'http://hook-user:hook-password@')}?token=query-token-value`;
    const sink = new WebhookAlertSink({
      config: { name: 'pager', url, secret: SECRET, updateInterval: 200 },
      logger: capture,
      baseBackoffMs: 20,
    });
    await sink.send(lagAnomaly({ incidentId: 'inc-hook-credentials' }));
    await sink.close();

    expect(receiver.received).toHaveLength(0);
    const output = lines.join('');
    expect(output).not.toContain('retrying');
    expect(output).toContain('ALERTS_WEBHOOK_REQUEST_INVALID');
    expect(output).toContain('http://***:***@127.0.0.1');
    expect(output).not.toContain('hook-password');
    expect(output).not.toContain('hook-user');
    expect(output).not.toContain('query-token-value');
  });

  it('rejects a URL with credentials in config', () => {
    const result = alertsConfigSchema.safeParse({
      webhooks: [{ name: 'pager', url: 'http://hook-user:hook-password@127.0.0.1:9/hook', secret: SECRET }],
    });
    expect(result.success).toBe(false);
    expect(JSON.stringify(result.error?.issues)).toContain('expected a URL without user name or password');
    expect(JSON.stringify(result.error?.issues)).not.toContain('hook-password');
  });

  it('folds updates between opening and resolution', async () => {
    const sink = createSink('10s');
    const opened = lagAnomaly({ incidentId: 'inc-hook-burst' });
    await sink.send(opened);
    for (let index = 0; index < 100; index += 1) {
      await sink.send({ ...opened, state: 'updated', metric: { ...opened.metric!, observed: 900 + index } });
    }
    await sink.send({ ...opened, state: 'resolved' });
    await sink.close();
    const bodies = receiver.received.map((delivery) => delivery.body as WebhookBody);
    expect(bodies.map((body) => body.event.state)).toEqual(['opened', 'resolved']);
    expect(bodies[1]!.foldedUpdates).toBe(101);
  });
});

describe('verifyWebhook', () => {
  const now = new Date('2026-12-04T18:40:00Z');
  const timestamp = String(Math.floor(now.getTime() / 1000));

  it('accepts a fresh signature', () => {
    const body = '{"a":1}';
    expect(verifyWebhook({ secret: SECRET, rawBody: body, timestampHeader: timestamp, signatureHeader: signWebhook(SECRET, timestamp, body), now })).toEqual({ ok: true });
  });

  it('rejects a changed body', () => {
    const result = verifyWebhook({ secret: SECRET, rawBody: '{"a":2}', timestampHeader: timestamp, signatureHeader: signWebhook(SECRET, timestamp, '{"a":1}'), now });
    expect(result.ok).toBe(false);
  });

  it('rejects an old timestamp', () => {
    const old = String(Number(timestamp) - 301);
    const result = verifyWebhook({ secret: SECRET, rawBody: '{}', timestampHeader: old, signatureHeader: signWebhook(SECRET, old, '{}'), now });
    expect(result).toEqual({ ok: false, reason: 'timestamp is 301 s from now' });
  });
});

describe('webhook burst', () => {
  it('delivers 50 new incidents', async () => {
    const sink = createSink();
    for (let index = 0; index < 50; index += 1) {
      await sink.send(lagAnomaly({ incidentId: `inc-hook-many-${index}` }));
    }
    await sink.close();
    expect(receiver.received).toHaveLength(50);
    expect(receiver.received.every((delivery) => delivery.verified)).toBe(true);
  });
});
