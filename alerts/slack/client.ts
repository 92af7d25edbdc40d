import { LogLevel, WebClient, type KnownBlock, type RetryOptions, type Logger as SlackLogger } from '@slack/web-api';
import type { Logger } from '../../server/logger.js';

/**
 * Retries of one Web API call. On 429 the client waits for `Retry-After`
 * (seconds) and pauses its whole queue before the retry, so later calls
 * wait too. Other transport errors back off from 1 s up to 30 s.
 */
export const DEFAULT_SLACK_RETRY: RetryOptions = { retries: 6, factor: 2, minTimeout: 1_000, maxTimeout: 30_000, randomize: true };

/** Time limit of one HTTP request to Slack, in milliseconds. */
const SLACK_REQUEST_TIMEOUT_MS = 15_000;

export interface SlackClientOptions {
  botToken: string;
  /** Base URL ending in `/api/`; Slack's own when unset. */
  apiUrl?: string;
  logger: Logger;
  retryConfig?: RetryOptions;
}

export interface PostedMessage {
  channel: string;
  ts: string;
}

/** The Web API calls alert delivery uses, so tests and the sink depend on this, not on WebClient. */
export interface SlackApi {
  postMessage(message: { channel: string; text: string; blocks: KnownBlock[]; threadTs?: string }): Promise<PostedMessage>;
  updateMessage(message: { channel: string; ts: string; text: string; blocks: KnownBlock[] }): Promise<void>;
  postEphemeral(message: { channel: string; user: string; text: string; threadTs?: string }): Promise<void>;
}

/** Creates the Web API client. It logs through pino and never logs the token. */
export function createSlackApi(options: SlackClientOptions): SlackApi {
  const client = new WebClient(options.botToken, {
    ...(options.apiUrl ? { slackApiUrl: options.apiUrl } : {}),
    logger: toSlackLogger(options.logger.child({ component: 'slack-web-api' })),
    logLevel: LogLevel.INFO,
    retryConfig: options.retryConfig ?? DEFAULT_SLACK_RETRY,
    rejectRateLimitedCalls: false,
    timeout: SLACK_REQUEST_TIMEOUT_MS,
    // Method names are fixed here, so no call may leave the configured base URL.
    allowAbsoluteUrls: false,
  });
  return {
    async postMessage({ channel, text, blocks, threadTs }) {
      const response = await client.chat.postMessage({
        channel,
        text,
        blocks,
        ...(threadTs ? { thread_ts: threadTs } : {}),
        unfurl_links: false,
        unfurl_media: false,
      });
      if (!response.channel || !response.ts) {
        throw new Error(`ALERTS_SLACK_BAD_RESPONSE: expected channel and ts from chat.postMessage, received ${JSON.stringify(response).slice(0, 200)}`);
      }
      return { channel: response.channel, ts: response.ts };
    },
    async updateMessage({ channel, ts, text, blocks }) {
      await client.chat.update({ channel, ts, text, blocks });
    },
    async postEphemeral({ channel, user, text, threadTs }) {
      await client.chat.postEphemeral({ channel, user, text, ...(threadTs ? { thread_ts: threadTs } : {}) });
    },
  };
}

function toSlackLogger(logger: Logger): SlackLogger {
  let level = LogLevel.INFO;
  const write = (method: 'debug' | 'info' | 'warn' | 'error') => (...messages: unknown[]) => logger[method](messages.map(String).join(' '));
  return {
    debug: write('debug'),
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
    setLevel(next: LogLevel) {
      level = next;
    },
    getLevel: () => level,
    setName() {},
  };
}
