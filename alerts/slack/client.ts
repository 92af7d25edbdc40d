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
      const response = await describeFailure('chat.postMessage', channel, () =>
        client.chat.postMessage({
          channel,
          text,
          blocks,
          ...(threadTs ? { thread_ts: threadTs } : {}),
          unfurl_links: false,
          unfurl_media: false,
        }),
      );
      if (!response.channel || !response.ts) {
        throw new Error(`ALERTS_SLACK_BAD_RESPONSE: expected channel and ts from chat.postMessage, received ${JSON.stringify(response).slice(0, 200)}`);
      }
      return { channel: response.channel, ts: response.ts };
    },
    async updateMessage({ channel, ts, text, blocks }) {
      await describeFailure('chat.update', channel, () => client.chat.update({ channel, ts, text, blocks }));
    },
    async postEphemeral({ channel, user, text, threadTs }) {
      await describeFailure('chat.postEphemeral', channel, () =>
        client.chat.postEphemeral({ channel, user, text, ...(threadTs ? { thread_ts: threadTs } : {}) }),
      );
    },
  };
}

/** Slack error codes that a wrong, revoked or under-scoped bot token causes. */
const TOKEN_ERRORS = new Set([
  'invalid_auth',
  'not_authed',
  'token_revoked',
  'token_expired',
  'account_inactive',
  'missing_scope',
  'not_allowed_token_type',
]);
/** Slack error codes of a channel the bot cannot post to. */
const CHANNEL_ERRORS = new Set(['channel_not_found', 'not_in_channel', 'is_archived', 'restricted_action']);

/** A failed Web API call, with the Slack error code and what to check. */
export class SlackCallError extends Error {
  readonly code = 'ALERTS_SLACK_CALL_FAILED';

  constructor(
    readonly method: string,
    readonly channel: string,
    readonly slackError: string | undefined,
    cause: unknown,
  ) {
    const reason = slackError ?? (cause instanceof Error ? cause.message : String(cause));
    super(`ALERTS_SLACK_CALL_FAILED: ${method} to channel ${channel} failed: ${reason}${hintFor(slackError)}`, { cause });
    this.name = 'SlackCallError';
  }
}

function hintFor(slackError: string | undefined): string {
  if (slackError === undefined) return '; check that alerts.slack.apiUrl, or slack.com, is reachable';
  if (TOKEN_ERRORS.has(slackError)) return '; check alerts.slack.botToken, which must be a bot token (xoxb-…) with the chat:write scope';
  if (CHANNEL_ERRORS.has(slackError)) return '; check the channel in alerts.slack and invite the bot to it';
  return '';
}

/** Runs one Web API call and raises a `SlackCallError` naming the method, channel and Slack error code. */
async function describeFailure<T>(method: string, channel: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    const data = (error as { data?: { error?: unknown } }).data;
    const slackError = typeof data?.error === 'string' ? data.error : undefined;
    throw new SlackCallError(method, channel, slackError, error);
  }
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
