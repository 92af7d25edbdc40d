import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { ProposalDecider, RemediationReader } from '../remediation/contract.js';
import type { Logger } from '../server/logger.js';
import type { AlertEvent, AlertSink } from './alert.js';
import type { AlertsConfig } from './config.js';
import type { SyncMode } from './routing.js';
import type { SecurityAuditEvent, SecurityAuditLog } from './security-audit.js';
import { createSlackApi, type SlackApi } from './slack/client.js';
import { registerSlackInteractivity, type SlackInteractivityLimits } from './slack/interactivity.js';
import { SlackMessageStore } from './slack/message-store.js';
import { SlackAlertSink } from './slack/sink.js';
import { WebhookAlertSink } from './webhook/sink.js';

export type { AlertEvent, AlertSink } from './alert.js';
export { ALERT_CATALOGUE, classifyAlert, type AlertCatalogueEntry, type AlertId } from './catalogue.js';
export { alertsConfigSchema, type AlertsConfig, type SlackConfig, type WebhookConfig } from './config.js';
export { isQuiet, isWithinQuietHours, routeAlert } from './routing.js';
export {
  createAuditLogAdapter,
  SLACK_REQUEST_REJECTED_EVENT,
  type AuditLogRecord,
  type SecurityAuditCode,
  type SecurityAuditEvent,
  type SecurityAuditLog,
} from './security-audit.js';
export { createSlackApi, DEFAULT_SLACK_RETRY, type SlackApi } from './slack/client.js';
export { registerSlackInteractivity, SLACK_INTERACTIVITY_PATH, type ExecutionWait, type SlackInteractivityLimits } from './slack/interactivity.js';
export { SlackMessageStore } from './slack/message-store.js';
export { signSlackRequest, verifySlackSignature } from './slack/signature.js';
export { SlackAlertSink } from './slack/sink.js';
export { signWebhook, verifyWebhook, WEBHOOK_DELIVERY_HEADER, WEBHOOK_SIGNATURE_HEADER, WEBHOOK_TIMESTAMP_HEADER } from './webhook/signature.js';
export { WebhookAlertSink } from './webhook/sink.js';

/** File under the data directory that maps incidents to their Slack messages. */
export const SLACK_MESSAGE_STATE_FILE = join('alerts', 'slack-messages.json');
/** File under the data directory with digests of recent Slack request signatures, for replay checks across restarts. */
export const SLACK_SEEN_SIGNATURES_FILE = join('alerts', 'slack-seen-signatures.json');

export interface AlertDeliveryDeps {
  logger: Logger;
  /** The service's data directory; the Slack message state lives below it. */
  dataDir: string;
  /** Configured workflows, for quiet hours by sync mode. */
  workflows: ReadonlyArray<{ name: string; syncMode: SyncMode }>;
  /** Decides on proposals clicked in Slack; without it `POST /slack/interactivity` is not registered. */
  decider?: ProposalDecider;
  /** Reads proposals after an approval in Slack, so the message shows the execution result. */
  proposals?: Pick<RemediationReader, 'getProposal'>;
  /** Receives Slack requests rejected before a decision; without it they go to the service log only. */
  securityAudit?: SecurityAuditLog;
  /** Replaces the Web API client, for tests. */
  slackApi?: SlackApi;
  /** Replaces the limits on rejected requests to `POST /slack/interactivity`, for tests. */
  interactivityLimits?: SlackInteractivityLimits;
  now?: () => Date;
}

/** Every configured alert target, and the Slack route for the API server. */
export interface AlertDelivery {
  sinks: AlertSink[];
  /** Sends an event to every sink; a failing sink is logged and does not stop the others. */
  send(event: AlertEvent): Promise<void>;
  /**
   * Registers `POST /slack/interactivity` on the API server when Slack has a
   * signing secret and a decider was given, and from then on shows Approve
   * and Reject buttons on proposals. Otherwise it logs why not, and proposals
   * point to the console.
   */
  registerRoutes(app: FastifyInstance): void;
  close(): Promise<void>;
}

/** Builds the Slack and webhook sinks of the `alerts` section. */
export function createAlertSinks(config: AlertsConfig, deps: AlertDeliveryDeps): AlertDelivery {
  // Sinks and the Slack client set their own `component`, so they get the caller's logger, not this child.
  const logger = deps.logger.child({ component: 'alerts' });
  const sinks: AlertSink[] = [];
  let slackSink: SlackAlertSink | undefined;
  let slackApi: SlackApi | undefined;
  const syncModes = new Map(deps.workflows.map((workflow) => [workflow.name, workflow.syncMode]));

  if (config.slack) {
    slackApi =
      deps.slackApi ??
      createSlackApi({ botToken: config.slack.botToken, logger: deps.logger, ...(config.slack.apiUrl ? { apiUrl: config.slack.apiUrl } : {}) });
    slackSink = new SlackAlertSink({
      api: slackApi,
      config: config.slack,
      links: config.links,
      store: new SlackMessageStore(join(deps.dataDir, SLACK_MESSAGE_STATE_FILE), logger),
      syncModeOf: (workflow) => syncModes.get(workflow),
      logger: deps.logger,
      ...(deps.now ? { now: deps.now } : {}),
    });
    sinks.push(slackSink);
  }
  for (const webhook of config.webhooks) {
    sinks.push(new WebhookAlertSink({ config: webhook, logger: deps.logger, ...(deps.now ? { now: deps.now } : {}) }));
  }

  return {
    sinks,
    async send(event) {
      const results = await Promise.allSettled(sinks.map((sink) => sink.send(event)));
      results.forEach((result, index) => {
        if (result.status === 'rejected') {
          logger.error({ err: result.reason, sink: sinks[index]?.name, incidentId: event.incidentId }, 'alert delivery failed');
        }
      });
    },
    registerRoutes(app) {
      const slack = config.slack;
      if (!slack || !slackApi) return;
      if (!slack.signingSecret || !deps.decider) {
        logger.warn(
          { signingSecret: slack.signingSecret ? 'set' : 'missing', decider: deps.decider ? 'set' : 'missing' },
          'POST /slack/interactivity is not registered, so Slack shows proposals without approve and reject buttons; set alerts.slack.signingSecret and start the remediation layer',
        );
        return;
      }
      registerSlackInteractivity(app, {
        signingSecret: slack.signingSecret,
        decider: deps.decider,
        audit: deps.securityAudit ?? createLoggingSecurityAudit(logger),
        api: slackApi,
        logger: deps.logger,
        onDecision: (proposalId, summary) => slackSink?.recordDecision(proposalId, summary),
        ...(deps.interactivityLimits ? { limits: deps.interactivityLimits } : {}),
        seenSignaturesPath: join(deps.dataDir, SLACK_SEEN_SIGNATURES_FILE),
        ...(deps.proposals ? { proposals: deps.proposals } : {}),
        ...(deps.now ? { now: deps.now } : {}),
      });
      slackSink?.enableDecisionButtons();
    },
    async close() {
      await Promise.allSettled(sinks.map((sink) => sink.close()));
    },
  };
}

/** Creates a security audit log that writes to the service log, for services without the remediation layer. */
export function createLoggingSecurityAudit(logger: Logger): SecurityAuditLog {
  return {
    async record(event: SecurityAuditEvent) {
      logger.warn({ audit: true, ...event }, 'security audit: request rejected');
    },
  };
}
