import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Maximum distance between a request's timestamp and now, in seconds. Slack's
 * request-signing guide recommends five minutes, so a captured request cannot
 * be replayed later.
 */
export const SLACK_TIMESTAMP_TOLERANCE_S = 5 * 60;

export type SlackSignatureCheck =
  | { ok: true; timestamp: number }
  | { ok: false; code: 'ALERTS_SLACK_SIGNATURE_MISSING' | 'ALERTS_SLACK_SIGNATURE_INVALID' | 'ALERTS_SLACK_TIMESTAMP_STALE'; detail: string };

/**
 * Verifies Slack's v0 request signature: HMAC-SHA256 of `v0:<timestamp>:<raw
 * body>` keyed with the signing secret, hex encoded behind `v0=`. The body
 * must be the bytes as received, before any parsing. Comparison runs in
 * constant time.
 */
export function verifySlackSignature(input: {
  signingSecret: string;
  rawBody: Buffer;
  timestampHeader: string | undefined;
  signatureHeader: string | undefined;
  now: Date;
  toleranceSeconds?: number;
}): SlackSignatureCheck {
  const { timestampHeader, signatureHeader } = input;
  if (!timestampHeader || !signatureHeader) {
    return { ok: false, code: 'ALERTS_SLACK_SIGNATURE_MISSING', detail: 'expected X-Slack-Request-Timestamp and X-Slack-Signature headers' };
  }
  if (!/^\d{1,12}$/.test(timestampHeader)) {
    return { ok: false, code: 'ALERTS_SLACK_SIGNATURE_INVALID', detail: `expected a Unix timestamp in seconds, received "${timestampHeader.slice(0, 20)}"` };
  }
  const timestamp = Number(timestampHeader);
  const skew = Math.abs(Math.floor(input.now.getTime() / 1000) - timestamp);
  const tolerance = input.toleranceSeconds ?? SLACK_TIMESTAMP_TOLERANCE_S;
  if (skew > tolerance) {
    return { ok: false, code: 'ALERTS_SLACK_TIMESTAMP_STALE', detail: `expected a timestamp within ${tolerance} s of now, received one ${skew} s away` };
  }
  const expected = signSlackRequest(input.signingSecret, timestampHeader, input.rawBody);
  const received = Buffer.from(signatureHeader, 'utf8');
  const wanted = Buffer.from(expected, 'utf8');
  if (received.length !== wanted.length || !timingSafeEqual(received, wanted)) {
    return { ok: false, code: 'ALERTS_SLACK_SIGNATURE_INVALID', detail: 'signature does not match the body and timestamp' };
  }
  return { ok: true, timestamp };
}

/** Returns `v0=<hex>` for a body, as Slack signs it; tests use it to sign payloads. */
export function signSlackRequest(signingSecret: string, timestamp: string, rawBody: Buffer | string): string {
  const hmac = createHmac('sha256', signingSecret);
  hmac.update(`v0:${timestamp}:`);
  hmac.update(rawBody);
  return `v0=${hmac.digest('hex')}`;
}
