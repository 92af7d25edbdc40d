import { withTimeout } from './common.js';

/** Counts and rates of one queue as the RabbitMQ management API reports them. */
export interface ManagementQueue {
  name: string;
  type?: string;
  state?: string;
  messagesReady: number;
  messagesUnacknowledged: number;
  consumers: number;
  /** Publish time of the head message in milliseconds; only when publishers set the timestamp property. */
  headTimestampMs?: number;
  publishPerSecond?: number;
  deliverPerSecond?: number;
  ackPerSecond?: number;
  /** Acknowledgements since the queue's statistics began; undefined when the broker collects no message statistics. */
  ackTotal?: number;
  /** Deliveries in acknowledgement mode (`deliver` plus `get`) since the queue's statistics began. */
  deliveredTotal?: number;
}

interface RawQueue {
  name?: unknown;
  type?: unknown;
  state?: unknown;
  messages_ready?: unknown;
  messages_unacknowledged?: unknown;
  consumers?: unknown;
  head_message_timestamp?: unknown;
  message_stats?: {
    publish_details?: { rate?: unknown };
    deliver_get_details?: { rate?: unknown };
    ack_details?: { rate?: unknown };
    ack?: unknown;
    deliver?: unknown;
    get?: unknown;
  };
}

const QUEUE_COLUMNS = [
  'name',
  'type',
  'state',
  'messages_ready',
  'messages_unacknowledged',
  'consumers',
  'head_message_timestamp',
  'message_stats.publish_details.rate',
  'message_stats.deliver_get_details.rate',
  'message_stats.ack_details.rate',
  'message_stats.ack',
  'message_stats.deliver',
  'message_stats.get',
].join(',');

/** Reads queue statistics of one virtual host from the RabbitMQ management HTTP API. */
export class ManagementClient {
  readonly #baseUrl: string;
  readonly #authorization: string;
  readonly #timeoutMs: number;
  #ratesEnabled: boolean | undefined;

  constructor(managementUrl: string, fallbackCredentials: { username: string; password: string }, timeoutMs: number) {
    const url = new URL(managementUrl);
    const username = url.username ? decodeURIComponent(url.username) : fallbackCredentials.username;
    const password = url.password ? decodeURIComponent(url.password) : fallbackCredentials.password;
    // fetch rejects URLs that carry credentials, so they move to the header.
    url.username = '';
    url.password = '';
    this.#baseUrl = url.toString().replace(/\/+$/, '');
    this.#authorization = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
    this.#timeoutMs = timeoutMs;
  }

  /** Reads every queue of `vhost`, keyed by queue name. */
  async readQueues(vhost: string): Promise<Map<string, ManagementQueue>> {
    if (this.#ratesEnabled === undefined) {
      const overview = (await this.#getJson('/api/overview')) as { rates_mode?: unknown };
      this.#ratesEnabled = overview.rates_mode !== 'none';
    }
    const raw = await this.#getJson(`/api/queues/${encodeURIComponent(vhost)}?columns=${QUEUE_COLUMNS}`);
    if (!Array.isArray(raw)) {
      throw new Error(`management API returned ${typeof raw} for the queue list of vhost "${vhost}": expected an array`);
    }
    const queues = new Map<string, ManagementQueue>();
    for (const entry of raw as RawQueue[]) {
      const queue = this.#toQueue(entry);
      if (queue) queues.set(queue.name, queue);
    }
    return queues;
  }

  #toQueue(entry: RawQueue): ManagementQueue | undefined {
    if (typeof entry.name !== 'string') return undefined;
    const queue: ManagementQueue = {
      name: entry.name,
      messagesReady: readCount(entry.messages_ready),
      messagesUnacknowledged: readCount(entry.messages_unacknowledged),
      consumers: readCount(entry.consumers),
    };
    if (typeof entry.type === 'string') queue.type = entry.type;
    if (typeof entry.state === 'string') queue.state = entry.state;
    // The broker reports the AMQP timestamp property, which has whole seconds.
    if (typeof entry.head_message_timestamp === 'number') {
      queue.headTimestampMs = entry.head_message_timestamp * 1000;
    }
    if (this.#ratesEnabled) {
      // A queue that has not seen a publish or delivery since its statistics
      // were reset has no rate entry, which means a rate of zero.
      queue.publishPerSecond = readRate(entry.message_stats?.publish_details?.rate);
      queue.deliverPerSecond = readRate(entry.message_stats?.deliver_get_details?.rate);
      queue.ackPerSecond = readRate(entry.message_stats?.ack_details?.rate);
    }
    const stats = entry.message_stats;
    if (stats !== undefined) {
      // A queue with no traffic yet may lack a counter, which then reads as zero.
      queue.ackTotal = readCount(stats.ack);
      queue.deliveredTotal = readCount(stats.deliver) + readCount(stats.get);
    }
    return queue;
  }

  async #getJson(path: string): Promise<unknown> {
    const url = `${this.#baseUrl}${path}`;
    const response = await withTimeout(
      fetch(url, {
        headers: { authorization: this.#authorization, accept: 'application/json' },
        signal: AbortSignal.timeout(this.#timeoutMs),
      }),
      this.#timeoutMs,
      `GET ${url}`,
    );
    if (!response.ok) {
      await response.body?.cancel();
      throw new Error(`GET ${url} failed with HTTP ${response.status} ${response.statusText}`);
    }
    return response.json();
  }
}

function readCount(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

function readRate(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}
