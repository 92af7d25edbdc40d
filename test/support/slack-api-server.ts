import Fastify, { type FastifyInstance } from 'fastify';

/** One Web API call as the server received it, with JSON-valued fields such as `blocks` parsed. */
export interface RecordedSlackCall {
  method: string;
  args: Record<string, unknown>;
  /** Whether the server returned 429 instead of handling the call. */
  rateLimited: boolean;
  at: number;
}

/** A message as the fake workspace stores it after posts and updates. */
export interface FakeSlackMessage {
  channel: string;
  ts: string;
  threadTs?: string;
  text: string;
  blocks: unknown[];
  updates: number;
}

export interface SlackApiServerOptions {
  /** Bot token the server accepts in `Authorization: Bearer`. */
  token: string;
  /** Calls allowed per method within `rateLimitWindowMs`; unlimited when unset. */
  rateLimitPerWindow?: number;
  rateLimitWindowMs?: number;
  /** Seconds sent in `Retry-After` with a 429. */
  retryAfterSeconds?: number;
  /** Channel ids or names that exist; any channel exists when unset. */
  channels?: string[];
}

export interface SlackApiServer {
  /** Base URL ending in `/api/`, for the `slackApiUrl` option of `WebClient`. */
  url: string;
  calls: RecordedSlackCall[];
  messages: Map<string, FakeSlackMessage>;
  /** Calls of one method that the server handled, without the calls rejected with 429. */
  handled(method: string): RecordedSlackCall[];
  /** Replies posted under a root message. */
  threadReplies(channel: string, ts: string): FakeSlackMessage[];
  close(): Promise<void>;
}

/**
 * Starts a local server that handles `chat.postMessage`, `chat.update`,
 * `chat.postEphemeral` and `auth.test` as the Slack Web API does: HTTP 200
 * with `{ok: false, error}` for API errors, and 429 with `Retry-After` when
 * one method is called more often than the configured limit, which Slack
 * applies per method as well.
 */
export async function startSlackApiServer(options: SlackApiServerOptions): Promise<SlackApiServer> {
  const app: FastifyInstance = Fastify({ logger: false });
  const calls: RecordedSlackCall[] = [];
  const messages = new Map<string, FakeSlackMessage>();
  const windows = new Map<string, { start: number; count: number }>();
  let sequence = 0;
  const baseSeconds = Math.floor(Date.now() / 1000);

  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  app.post<{ Params: { method: string } }>('/api/:method', async (request, reply) => {
    const { method } = request.params;
    const args = parseArgs((request.body ?? {}) as Record<string, unknown>);
    const now = Date.now();
    const call: RecordedSlackCall = { method, args, rateLimited: false, at: now };
    calls.push(call);

    if (options.rateLimitPerWindow !== undefined) {
      const windowMs = options.rateLimitWindowMs ?? 1_000;
      let window = windows.get(method);
      if (!window || now - window.start >= windowMs) {
        window = { start: now, count: 0 };
        windows.set(method, window);
      }
      window.count += 1;
      if (window.count > options.rateLimitPerWindow) {
        call.rateLimited = true;
        return reply
          .status(429)
          .header('retry-after', String(options.retryAfterSeconds ?? 1))
          .send({ ok: false, error: 'ratelimited' });
      }
    }

    if (request.headers.authorization !== `Bearer ${options.token}`) {
      return { ok: false, error: request.headers.authorization ? 'invalid_auth' : 'not_authed' };
    }
    const channel = typeof args.channel === 'string' ? args.channel : undefined;
    const knownChannel = (name: string | undefined) => name !== undefined && (options.channels === undefined || options.channels.includes(name));

    switch (method) {
      case 'auth.test':
        return { ok: true, url: 'https://syncwatch-test.slack.com/', team: 'syncwatch test', user: 'syncwatch', team_id: 'T0TEST', user_id: 'U0BOT' };
      case 'chat.postMessage': {
        if (!knownChannel(channel)) return { ok: false, error: 'channel_not_found' };
        const threadTs = typeof args.thread_ts === 'string' ? args.thread_ts : undefined;
        if (threadTs !== undefined && !messages.has(`${channel}/${threadTs}`)) return { ok: false, error: 'thread_not_found' };
        sequence += 1;
        const ts = `${baseSeconds}.${String(sequence).padStart(6, '0')}`;
        const message: FakeSlackMessage = {
          channel: channel as string,
          ts,
          text: String(args.text ?? ''),
          blocks: Array.isArray(args.blocks) ? args.blocks : [],
          updates: 0,
          ...(threadTs ? { threadTs } : {}),
        };
        messages.set(`${channel}/${ts}`, message);
        return { ok: true, channel, ts, message: { type: 'message', text: message.text, ts, ...(threadTs ? { thread_ts: threadTs } : {}) } };
      }
      case 'chat.update': {
        const ts = typeof args.ts === 'string' ? args.ts : undefined;
        const message = messages.get(`${channel}/${ts}`);
        if (!message) return { ok: false, error: 'message_not_found' };
        message.text = String(args.text ?? message.text);
        if (Array.isArray(args.blocks)) message.blocks = args.blocks;
        message.updates += 1;
        return { ok: true, channel, ts, text: message.text };
      }
      case 'chat.postEphemeral':
        if (!knownChannel(channel)) return { ok: false, error: 'channel_not_found' };
        if (typeof args.user !== 'string') return { ok: false, error: 'user_not_in_channel' };
        sequence += 1;
        return { ok: true, message_ts: `${baseSeconds}.${String(sequence).padStart(6, '0')}` };
      default:
        return { ok: false, error: 'unknown_method' };
    }
  });

  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/api/`,
    calls,
    messages,
    handled: (method) => calls.filter((call) => call.method === method && !call.rateLimited),
    threadReplies: (channel, ts) => [...messages.values()].filter((message) => message.channel === channel && message.threadTs === ts),
    close: () => app.close(),
  };
}

/** Parses fields that `WebClient` sends as JSON text inside the form, such as `blocks`. */
function parseArgs(body: Record<string, unknown>): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) {
    if (typeof value === 'string' && (value.startsWith('[') || value.startsWith('{'))) {
      try {
        args[key] = JSON.parse(value);
        continue;
      } catch {
        // Not JSON after all; keep the text.
      }
    }
    args[key] = value;
  }
  return args;
}
