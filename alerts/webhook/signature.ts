import { createHmac, timingSafeEqual } from 'node:crypto';

export const WEBHOOK_TIMESTAMP_HEADER = 'x-syncwatch-timestamp';
export const WEBHOOK_SIGNATURE_HEADER = 'x-syncwatch-signature';
export const WEBHOOK_DELIVERY_HEADER = 'x-syncwatch-delivery';
/** Maximum distance between a delivery's timestamp and the receiver's clock, in seconds. */
export const WEBHOOK_TIMESTAMP_TOLERANCE_S = 5 * 60;

/**
 * Returns `v1=<hex>`: HMAC-SHA256, keyed with the shared secret, of
 * `v1:<timestamp>:<body>`. Receivers recompute it over the raw body.
 */
export function signWebhook(secret: string, timestamp: string, body: Buffer | string): string {
  const hmac = createHmac('sha256', secret);
  hmac.update(`v1:${timestamp}:`);
  hmac.update(body);
  return `v1=${hmac.digest('hex')}`;
}

/**
 * Verifies a delivery as a receiver should: the timestamp lies within five
 * minutes of `now` and the signature matches, compared in constant time.
 * Returns the reason when it does not.
 */
export function verifyWebhook(input: {
  secret: string;
  rawBody: Buffer | string;
  timestampHeader: string | undefined;
  signatureHeader: string | undefined;
  now: Date;
}): { ok: true } | { ok: false; reason: string } {
  const { timestampHeader, signatureHeader } = input;
  if (!timestampHeader || !signatureHeader) return { ok: false, reason: 'missing timestamp or signature header' };
  if (!/^\d{1,12}$/.test(timestampHeader)) return { ok: false, reason: 'timestamp is not Unix seconds' };
  const skew = Math.abs(Math.floor(input.now.getTime() / 1000) - Number(timestampHeader));
  if (skew > WEBHOOK_TIMESTAMP_TOLERANCE_S) return { ok: false, reason: `timestamp is ${skew} s from now` };
  const wanted = Buffer.from(signWebhook(input.secret, timestampHeader, input.rawBody));
  const received = Buffer.from(signatureHeader);
  if (received.length !== wanted.length || !timingSafeEqual(received, wanted)) return { ok: false, reason: 'signature does not match' };
  return { ok: true };
}
