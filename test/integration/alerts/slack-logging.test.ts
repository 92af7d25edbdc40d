import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertsConfigSchema } from '../../../alerts/config.js';
import { createAlertSinks } from '../../../alerts/index.js';
import { lagAnomaly } from '../../support/alert-events.js';
import { startSlackApiServer, type SlackApiServer } from '../../support/slack-api-server.js';
import { startWebhookReceiver, type WebhookReceiver } from '../../support/webhook-receiver.js';

const dataDir = mkdtempSync(join(tmpdir(), 'syncwatch-alerts-logging-'));
const WEBHOOK_SECRET = 'webhook-secret-0123456789';
let slack: SlackApiServer;
let receiver: WebhookReceiver;

beforeAll(async () => {
  slack = await startSlackApiServer({ token: 'xoxb-the-right-token' });
  receiver = await startWebhookReceiver(WEBHOOK_SECRET);
});

afterAll(async () => {
  await slack?.close();
  await receiver?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

interface LogLine {
  level: number;
  msg: string;
  err?: { message?: string };
}

/** Sends one alert with a bot token the Slack server rejects and returns the raw log lines. */
async function sendWithWrongToken(): Promise<string[]> {
  // A 400 ends the webhook delivery without retries and logs an error line of the webhook sink.
  receiver.respondWith.push({ status: 400 });
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
  const config = alertsConfigSchema.parse({
    slack: { botToken: 'xoxb-a-wrong-token', apiUrl: slack.url, defaultChannel: 'C0OPS' },
    webhooks: [{ name: 'pager', url: receiver.url, secret: WEBHOOK_SECRET }],
  });
  const delivery = createAlertSinks(config, { logger, dataDir: mkdtempSync(join(dataDir, 'state-')), workflows: [] });
  await delivery.send(lagAnomaly({ incidentId: 'inc-wrong-token' }));
  await delivery.close();
  return lines;
}

describe('alert delivery logs', () => {
  it('logs a rejected bot token once', async () => {
    const lines = await sendWithWrongToken();
    const errors = lines.map((line) => JSON.parse(line) as LogLine).filter((line) => line.level >= 50 && JSON.stringify(line).includes('invalid_auth'));
    expect(errors).toHaveLength(1);
    expect(errors[0]!.err?.message).toContain('ALERTS_SLACK_CALL_FAILED');
    expect(errors[0]!.err?.message).toContain('chat.postMessage');
    expect(errors[0]!.err?.message).toContain('check alerts.slack.botToken');
    expect(lines.join('')).not.toContain('xoxb-a-wrong-token');
  });

  it('writes one component key per line', async () => {
    const lines = await sendWithWrongToken();
    expect(lines.some((line) => line.includes('"component":"alerts-webhook"'))).toBe(true);
    for (const line of lines) {
      expect(line.split('"component":').length - 1, line).toBeLessThanOrEqual(1);
    }
  });
});
