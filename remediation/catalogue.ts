import {
  allowedRemediationsFor,
  isExceptionCategory,
  REMEDIATION_KINDS,
  type RemediationKind,
} from '../analyzer/exceptions/taxonomy.js';

export { REMEDIATION_KINDS, type RemediationKind };

/** Description of one action and of what running it twice or blindly could cause. */
export interface ActionEntry {
  kind: RemediationKind;
  /** One line for the console and chat. */
  summary: string;
  /** Description, in words, of what the action could send twice. */
  duplicateRisk: string;
}

/** The fixed catalogue of actions a proposal can carry, keyed by kind. */
export const ACTION_CATALOGUE: Readonly<Record<RemediationKind, ActionEntry>> = {
  retry_now: {
    kind: 'retry_now',
    summary: 'set the failed queue_job rows back to pending now, keeping their retry count',
    duplicateRisk:
      'a job that reached the partner before it failed (a timeout after the call) runs again and can create a second picking or order line unless the partner deduplicates',
  },
  retry_after_delay: {
    kind: 'retry_after_delay',
    summary: 'set the failed queue_job rows back to pending with an eta after the configured delay',
    duplicateRisk:
      'as for an immediate retry, a job whose call reached the partner before the failure runs a second time',
  },
  requeue_failed_jobs: {
    kind: 'requeue_failed_jobs',
    summary: "requeue the failed queue_job rows as Odoo's requeue button does: pending, retry count reset",
    duplicateRisk:
      'every requeued job runs again from its first attempt; jobs whose side effect happened before the failure repeat it',
  },
  replay_dead_letters: {
    kind: 'replay_dead_letters',
    summary: 'move the messages of the dead-letter queue back to the queue they died on',
    duplicateRisk:
      'a consumer that processed a message and failed before acknowledging it sees it again; consumers must deduplicate by message id',
  },
  republish_nats: {
    kind: 'republish_nats',
    summary: 'republish the dead-lettered JetStream messages to their original subject',
    duplicateRisk:
      'subscribers that handled a message before it was dead-lettered receive it again; each copy carries a Nats-Msg-Id so JetStream drops a second publish within its duplicate window',
  },
  reroute: {
    kind: 'reroute',
    summary: "switch the workflow's active route to the declared alternate route",
    duplicateRisk:
      'messages already in flight on the old route still arrive, so the receiver may see an item on both routes while they drain',
  },
  hold_channel: {
    kind: 'hold_channel',
    summary: 'hold the channel: no retry, replay or republish runs on it until the hold is lifted',
    duplicateRisk: 'none: holding sends nothing, but the items on the channel wait longer',
  },
  skip_duplicates: {
    kind: 'skip_duplicates',
    summary: 'cancel failed queue_job rows whose identity key already has a done job',
    duplicateRisk: 'none: nothing is sent; a wrongly matched job would be lost, so only exact identity-key matches are skipped',
  },
};

/**
 * Returns the action kinds allowed for an exception label. Without a label
 * (a lag or prediction incident) only holding, rerouting and delayed retries
 * are offered, since no classification marks a retry as safe now.
 */
export function allowedActions(exception: { category: string; retryable: boolean } | undefined): readonly RemediationKind[] {
  if (exception === undefined) return ['retry_after_delay', 'reroute', 'hold_channel'];
  if (!isExceptionCategory(exception.category)) return ['hold_channel'];
  return allowedRemediationsFor(exception.category, exception.retryable);
}
