import { describe, expect, it } from 'vitest';
import { classifyAlert } from '../../../alerts/catalogue.js';
import { redactSample } from '../../../alerts/redact.js';
import { createAuditLogAdapter } from '../../../alerts/security-audit.js';
import { signSlackRequest, verifySlackSignature } from '../../../alerts/slack/signature.js';

const SECRET = '8f742231b10e8888abcd99yyyzzz85a5';
const now = new Date('2026-12-04T18:40:00Z');
const timestamp = String(Math.floor(now.getTime() / 1000));
const body = Buffer.from('payload=%7B%22type%22%3A%22block_actions%22%7D');

describe('verifySlackSignature', () => {
  it('accepts Slack v0 signatures', () => {
    const signatureHeader = signSlackRequest(SECRET, timestamp, body);
    expect(signatureHeader).toMatch(/^v0=[0-9a-f]{64}$/);
    expect(verifySlackSignature({ signingSecret: SECRET, rawBody: body, timestampHeader: timestamp, signatureHeader, now })).toEqual({
      ok: true,
      timestamp: Number(timestamp),
    });
  });

  it('rejects a signature of other bytes', () => {
    const signatureHeader = signSlackRequest(SECRET, timestamp, Buffer.concat([body, Buffer.from(' ')]));
    const result = verifySlackSignature({ signingSecret: SECRET, rawBody: body, timestampHeader: timestamp, signatureHeader, now });
    expect(result).toMatchObject({ ok: false, code: 'ALERTS_SLACK_SIGNATURE_INVALID' });
  });

  it('rejects a truncated signature', () => {
    const signatureHeader = signSlackRequest(SECRET, timestamp, body).slice(0, 20);
    const result = verifySlackSignature({ signingSecret: SECRET, rawBody: body, timestampHeader: timestamp, signatureHeader, now });
    expect(result).toMatchObject({ ok: false, code: 'ALERTS_SLACK_SIGNATURE_INVALID' });
  });

  it('rejects timestamps over five minutes away', () => {
    for (const offset of [-301, 301]) {
      const shifted = String(Number(timestamp) + offset);
      const signatureHeader = signSlackRequest(SECRET, shifted, body);
      const result = verifySlackSignature({ signingSecret: SECRET, rawBody: body, timestampHeader: shifted, signatureHeader, now });
      expect(result).toMatchObject({ ok: false, code: 'ALERTS_SLACK_TIMESTAMP_STALE' });
    }
  });

  it('accepts timestamps at the edge of the window', () => {
    const shifted = String(Number(timestamp) - 300);
    const signatureHeader = signSlackRequest(SECRET, shifted, body);
    expect(verifySlackSignature({ signingSecret: SECRET, rawBody: body, timestampHeader: shifted, signatureHeader, now }).ok).toBe(true);
  });

  it('rejects a missing header', () => {
    const result = verifySlackSignature({ signingSecret: SECRET, rawBody: body, timestampHeader: timestamp, signatureHeader: undefined, now });
    expect(result).toMatchObject({ ok: false, code: 'ALERTS_SLACK_SIGNATURE_MISSING' });
  });
});

describe('classifyAlert', () => {
  it('maps metrics and kinds to stable ids', () => {
    expect(classifyAlert({ kind: 'anomaly', metric: { name: 'lag_seconds', observed: 1, unit: 's' } }).id).toBe('ALERT_LAG_ANOMALY');
    expect(classifyAlert({ kind: 'anomaly', metric: { name: 'depth', observed: 1, unit: 'messages' } }).id).toBe('ALERT_DEPTH_ANOMALY');
    expect(classifyAlert({ kind: 'anomaly', metric: { name: 'source_down', observed: 1, unit: '' } }).id).toBe('ALERT_SOURCE_DOWN');
    expect(classifyAlert({ kind: 'anomaly' }).id).toBe('ALERT_ANOMALY');
    expect(classifyAlert({ kind: 'prediction' }).id).toBe('ALERT_OBJECTIVE_BREACH_PREDICTED');
    expect(classifyAlert({ kind: 'exception' }).id).toBe('ALERT_EXCEPTION');
    expect(classifyAlert({ kind: 'remediation' }).id).toBe('ALERT_REMEDIATION_PROPOSED');
  });
});

describe('redactSample', () => {
  it('masks credentials and e-mail addresses', () => {
    const sample = 'GET https://bot:hunter2@erp.local/api password=hunter2 token: abc123 xoxb-123-456 from ops@plant.example';
    const redacted = redactSample(sample);
    expect(redacted).not.toContain('hunter2');
    expect(redacted).not.toContain('abc123');
    expect(redacted).not.toContain('xoxb-123-456');
    expect(redacted).not.toContain('ops@plant.example');
    expect(redacted).toContain('https://bot:[redacted]@erp.local/api');
  });

  it('masks IP addresses and phone numbers', () => {
    const redacted = redactSample('connect to 10.20.30.40 failed, call +49 170 1234567');
    expect(redacted).not.toContain('10.20.30.40');
    expect(redacted).not.toContain('1234567');
  });
});

describe('createAuditLogAdapter', () => {
  it('maps rejected requests to audit rows', async () => {
    const rows: unknown[] = [];
    const audit = createAuditLogAdapter(async (record) => rows.push(record));
    await audit.record({
      at: now,
      channel: 'slack',
      code: 'ALERTS_SLACK_USER_UNKNOWN',
      actor: 'U0STRANGER',
      proposalId: 'prop-1',
      remoteAddress: '127.0.0.1',
      detail: 'Slack user U0STRANGER is not mapped to a syncwatch user',
    });
    expect(rows).toEqual([
      {
        actor: 'slack:U0STRANGER',
        channel: 'slack',
        event: 'slack.request_rejected',
        code: 'ALERTS_SLACK_USER_UNKNOWN',
        proposalId: 'prop-1',
        detail: 'Slack user U0STRANGER is not mapped to a syncwatch user (from 127.0.0.1)',
      },
    ]);
  });
});
