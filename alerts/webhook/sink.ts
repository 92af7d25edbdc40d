import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AlertEvent, AlertSink } from '../alert.js';
import { classifyAlert } from '../catalogue.js';
import type { WebhookConfig } from '../config.js';
import { redactSample, redactUrl } from '../redact.js';
import { UpdateCoalescer } from '../throttle.js';
import type { Logger } from '../../server/logger.js';
import { signWebhook, WEBHOOK_DELIVERY_HEADER, WEBHOOK_SIGNATURE_HEADER, WEBHOOK_TIMESTAMP_HEADER } from './signature.js';

/** Attempts per delivery, the first included. */
const MAX_ATTEMPTS = 5;
const BASE_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 30_000;
const REQUEST_TIMEOUT_MS = 10_000;
/** Posts in flight at once per webhook, so a burst of new incidents does not open hundreds of connections. */
const MAX_CONCURRENT_POSTS = 4;

export interface WebhookSinkOptions {
  config: WebhookConfig;
  logger: Logger;
  /** Backoff before the first retry; later retries double it. Tests shorten it. */
  baseBackoffMs?: number;
  now?: () => Date;
}

/** The JSON body of a delivery. Dates are ISO 8601 strings. */
export interface WebhookBody {
  version: 1;
  alertId: string;
  /** Updates of the incident folded into this delivery, this one included. */
  foldedUpdates: number;
  event: Record<string, unknown>;
}

interface Pending {
  event: AlertEvent;
  count: number;
}

/**
 * Posts alert events as signed JSON to a chat or paging tool. Openings and
 * resolutions go out at once. Updates of one incident go out at most once per
 * `updateInterval`, with the latest state and the number of updates folded in.
 * A failed post is retried up to five attempts with exponential backoff and
 * jitter, or after `Retry-After` when the receiver sends one. A request that
 * cannot be built, such as one to a URL with credentials, is not retried.
 * Logs and errors show the URL with its credentials and query values masked.
 */
export class WebhookAlertSink implements AlertSink {
  readonly name: string;
  readonly #options: WebhookSinkOptions;
  readonly #logger: Logger;
  readonly #coalescer: UpdateCoalescer<AlertEvent, Pending>;
  readonly #now: () => Date;
  #aborted = new AbortController();
  #inFlight = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(options: WebhookSinkOptions) {
    this.#options = options;
    this.name = `webhook:${options.config.name}`;
    this.#logger = options.logger.child({ component: 'alerts-webhook', webhook: options.config.name });
    this.#now = options.now ?? (() => new Date());
    this.#coalescer = new UpdateCoalescer<AlertEvent, Pending>({
      intervalMs: options.config.updateInterval,
      now: () => this.#now().getTime(),
      merge: (pending, event) => ({ event, count: (pending?.count ?? 0) + 1 }),
      flush: (_key, pending) => this.#post(pending),
      onError: (key, error) => this.#logger.error({ err: error, incidentId: key }, 'webhook delivery failed; the update is dropped'),
    });
  }

  /**
   * Queues the event and returns without waiting for the post, so retries
   * never hold up the analyzer. `close()` waits for posts in progress.
   */
  async send(event: AlertEvent): Promise<void> {
    const delivered = this.#coalescer.offer(event.incidentId, event, event.state !== 'updated');
    if (event.state === 'resolved') void delivered.then(() => this.#coalescer.forget(event.incidentId));
  }

  async close(): Promise<void> {
    await this.#coalescer.close();
    this.#aborted.abort();
  }

  async #post(pending: Pending): Promise<void> {
    // A finishing post hands its slot straight to the next waiting one, so the count never passes the limit.
    if (this.#inFlight >= MAX_CONCURRENT_POSTS) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    else this.#inFlight += 1;
    try {
      await this.#postWithRetries(pending);
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#inFlight -= 1;
    }
  }

  async #postWithRetries(pending: Pending): Promise<void> {
    const body: WebhookBody = {
      version: 1,
      alertId: classifyAlert(pending.event).id,
      foldedUpdates: pending.count,
      event: serializeEvent(pending.event),
    };
    const text = JSON.stringify(body);
    const delivery = randomUUID();
    const baseBackoff = this.#options.baseBackoffMs ?? BASE_BACKOFF_MS;
    for (let attempt = 1; ; attempt += 1) {
      // Each attempt is signed afresh, so a late retry is not rejected as stale.
      const timestamp = String(Math.floor(this.#now().getTime() / 1000));
      let retryAfterMs: number | undefined;
      let failure: string;
      try {
        const response = await fetch(this.#options.config.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            [WEBHOOK_TIMESTAMP_HEADER]: timestamp,
            [WEBHOOK_SIGNATURE_HEADER]: signWebhook(this.#options.config.secret, timestamp, text),
            [WEBHOOK_DELIVERY_HEADER]: delivery,
          },
          body: text,
          redirect: 'error',
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
        await response.body?.cancel();
        if (response.ok) return;
        failure = `HTTP ${response.status}`;
        if (!isRetryableStatus(response.status)) {
          throw new Error(`ALERTS_WEBHOOK_REJECTED: ${this.name} returned ${failure}; expected 2xx. Check its URL and secret`);
        }
        retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), this.#now());
      } catch (error) {
        if (error instanceof Error && error.message.startsWith('ALERTS_WEBHOOK_REJECTED')) throw error;
        failure = this.#redact(error instanceof Error ? error.message : String(error));
        if (!isTransientFetchError(error)) {
          throw new Error(
            `ALERTS_WEBHOOK_REQUEST_INVALID: ${this.name} cannot post to ${redactUrl(this.#options.config.url)}: ${failure}; check alerts.webhooks[].url`,
          );
        }
      }
      if (attempt >= MAX_ATTEMPTS) {
        throw new Error(`ALERTS_WEBHOOK_FAILED: ${this.name} failed ${attempt} attempts; last: ${failure}`);
      }
      const backoff = Math.min(MAX_BACKOFF_MS, baseBackoff * 2 ** (attempt - 1));
      const wait = retryAfterMs ?? backoff / 2 + Math.random() * (backoff / 2);
      this.#logger.warn({ attempt, waitMs: Math.round(wait), failure, incidentId: pending.event.incidentId, delivery }, 'webhook delivery failed; retrying');
      await sleep(Math.min(wait, MAX_BACKOFF_MS), undefined, { signal: this.#aborted.signal }).catch(() => undefined);
      if (this.#aborted.signal.aborted) throw new Error(`ALERTS_WEBHOOK_FAILED: ${this.name} closed while retrying; last: ${failure}`);
    }
  }

  /** Masks the configured URL wherever an error message repeats it. */
  #redact(text: string): string {
    const configured = this.#options.config.url;
    let normalized = configured;
    try {
      normalized = new URL(configured).href;
    } catch {
      // An unparsable URL can only appear as configured.
    }
    return text.replaceAll(normalized, redactUrl(normalized)).replaceAll(configured, redactUrl(configured));
  }
}

/**
 * Tells network failures and timeouts, which a retry may fix, from errors in
 * building the request. Node's fetch (undici) raises `TypeError('fetch
 * failed')` with the socket error as `cause` for the first kind, and other
 * TypeErrors, such as for a URL with credentials, for the second.
 */
function isTransientFetchError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'TimeoutError' || error.name === 'AbortError') return true;
  return error instanceof TypeError && error.message === 'fetch failed';
}

function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || status >= 500;
}

/** Reads `Retry-After` as seconds or an HTTP date; returns milliseconds. */
function parseRetryAfter(header: string | null, now: Date): number | undefined {
  if (header === null) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now.getTime());
}

function serializeEvent(event: AlertEvent): Record<string, unknown> {
  const copy: Record<string, unknown> = JSON.parse(JSON.stringify(event)) as Record<string, unknown>;
  if (event.exception) copy.exception = { ...event.exception, sample: redactSample(event.exception.sample) };
  return copy;
}
