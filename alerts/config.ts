import { z } from 'zod';
import { durationSchema } from '../config/duration.js';
import { ALERT_SEVERITIES } from './alert.js';
import { redactUrl } from './redact.js';

/** Default time between two thread replies about one incident group. */
export const DEFAULT_REPLY_INTERVAL_MS = 60_000;
/** Default time during which a new incident joins the open thread of its group. */
export const DEFAULT_GROUP_WINDOW_MS = 15 * 60_000;

const oneOrMany = <T extends z.ZodType>(schema: T, expected: string) =>
  z
    .union([schema, z.array(schema).min(1)], { error: `expected ${expected}, or a non-empty list of them` })
    .transform((value) => (Array.isArray(value) ? value : [value]) as Array<z.output<T>>);

const SEVERITY_CHOICES = ALERT_SEVERITIES.map((severity) => JSON.stringify(severity)).join(', ');

const channelSchema = z
  .string()
  .regex(/^[#@]?[A-Za-z0-9_.-]{1,80}$/, 'expected a Slack channel id such as C0123ABCD or a name such as #ops-alerts');

/** `HH:MM` on a 24-hour clock. */
const clockSchema = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected a time of day as HH:MM, such as 22:00');

const timeZoneSchema = z.string().refine(isKnownTimeZone, {
  error: (issue) => `expected an IANA time zone such as Europe/Berlin or UTC, received ${JSON.stringify(issue.input)}`,
});

/**
 * An http or https URL without a user name or password. Fetch rejects URLs
 * with credentials, and a URL in a log line would show them.
 */
const httpUrlSchema = z
  .url({ protocol: /^https?$/, error: 'expected an http or https URL' })
  .refine((value) => {
    const url = new URL(value);
    return url.username === '' && url.password === '';
  }, {
    error: (issue) =>
      `expected a URL without user name or password, received ${redactUrl(String(issue.input))}; remove the credentials from the URL`,
  });

/**
 * One routing rule. Every field that is set must match the event, and a list
 * matches any of its values. Rules are tried in order and the first match wins.
 */
const routeSchema = z.strictObject({
  match: z
    .strictObject({
      plant: oneOrMany(z.string().min(1), 'a plant name').optional(),
      integration: oneOrMany(z.string().min(1), 'an integration name').optional(),
      workflow: oneOrMany(z.string().min(1), 'a workflow name').optional(),
      severity: oneOrMany(z.enum(ALERT_SEVERITIES), `one of ${SEVERITY_CHOICES}`).optional(),
    })
    .default({}),
  channel: channelSchema,
});

/**
 * Hours during which alerts of the selected workflows wait instead of going
 * out. `start` after `end` spans midnight. By default only non-critical
 * alerts of batch workflows wait.
 */
const quietHoursSchema = z.strictObject({
  start: clockSchema,
  end: clockSchema,
  timeZone: timeZoneSchema.default('UTC'),
  appliesTo: z
    .strictObject({
      syncModes: z.array(z.enum(['real_time', 'near_real_time', 'batch'])).min(1).default(['batch']),
      severities: z.array(z.enum(ALERT_SEVERITIES)).min(1).default(['warning', 'info']),
    })
    .default({ syncModes: ['batch'], severities: ['warning', 'info'] }),
});

/** Limits that keep one incident, or a burst of related ones, to one thread. */
const throttleSchema = z.strictObject({
  /** Minimum time between two thread replies of one thread; updates in between are folded into the next reply. */
  replyInterval: durationSchema.default(DEFAULT_REPLY_INTERVAL_MS),
  /** How long after its last activity a thread still takes new incidents of the same alert, integration and plant. */
  groupWindow: durationSchema.default(DEFAULT_GROUP_WINDOW_MS),
});

const slackSchema = z.strictObject({
  /** Bot token (`xoxb-…`) with the `chat:write` scope. */
  botToken: z.string().min(1),
  /** Signing secret of the Slack app, which verifies requests to `POST /slack/interactivity`. */
  signingSecret: z.string().min(1).optional(),
  /** Base URL of the Web API, ending in `/api/`; only for proxies and tests. */
  apiUrl: httpUrlSchema.optional(),
  defaultChannel: channelSchema,
  routes: z.array(routeSchema).default([]),
  quietHours: quietHoursSchema.optional(),
  throttle: throttleSchema.default({ replyInterval: DEFAULT_REPLY_INTERVAL_MS, groupWindow: DEFAULT_GROUP_WINDOW_MS }),
});

/** A chat or paging tool that takes signed JSON posts. */
const webhookSchema = z.strictObject({
  name: z.string().regex(/^[a-z][a-z0-9_.-]{0,62}$/, 'expected a lowercase name of letters, digits, "_", "." or "-"'),
  url: httpUrlSchema,
  /** Key of the HMAC-SHA256 signature the receiver checks; at least 16 characters. */
  secret: z.string().min(16, 'expected a secret of at least 16 characters'),
  /** Minimum time between two posts about one incident, except for opening and resolution. */
  updateInterval: durationSchema.default(DEFAULT_REPLY_INTERVAL_MS),
});

/** The `alerts` section of `syncwatch.yaml`. */
export const alertsConfigSchema = z.strictObject({
  slack: slackSchema.optional(),
  webhooks: z.array(webhookSchema).superRefine(rejectDuplicateNames).default([]),
  links: z
    .strictObject({
      /** Grafana base URL; alerts link to the integration drill-down below it. */
      dashboardUrl: httpUrlSchema.optional(),
      /** syncwatch console URL; alerts link to it, and to a proposal as `<consoleUrl>#proposal=<id>`. */
      consoleUrl: httpUrlSchema.optional(),
    })
    .default({}),
});

export type AlertsConfig = z.output<typeof alertsConfigSchema>;
export type SlackConfig = z.output<typeof slackSchema>;
export type SlackRoute = z.output<typeof routeSchema>;
export type QuietHoursConfig = z.output<typeof quietHoursSchema>;
export type WebhookConfig = z.output<typeof webhookSchema>;

export const DEFAULT_ALERTS_CONFIG: AlertsConfig = { webhooks: [], links: {} };

/** Reports each webhook whose name an earlier entry already uses, because the name identifies the target in logs. */
function rejectDuplicateNames(webhooks: Array<{ name: string }>, context: z.RefinementCtx): void {
  const firstIndex = new Map<string, number>();
  webhooks.forEach((webhook, index) => {
    const earlier = firstIndex.get(webhook.name);
    if (earlier === undefined) {
      firstIndex.set(webhook.name, index);
      return;
    }
    context.addIssue({
      code: 'custom',
      path: [index, 'name'],
      message: `expected a unique webhook name, received "${webhook.name}", which webhooks[${earlier}] uses already`,
    });
  });
}

function isKnownTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
