import type { KnownBlock } from '@slack/web-api';
import Fastify, { type FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { DecisionOutcome, DecisionRequest, ProposalDecider, ProposalStatus, ProposalView } from '../../../remediation/contract.js';
import { APPROVE_ACTION_ID, PROPOSAL_BLOCK_PREFIX } from '../../../alerts/slack/blocks.js';
import type { SlackApi } from '../../../alerts/slack/client.js';
import { registerSlackInteractivity, SLACK_INTERACTIVITY_PATH } from '../../../alerts/slack/interactivity.js';
import { signSlackRequest } from '../../../alerts/slack/signature.js';

const SIGNING_SECRET = 'signing-secret-for-execution-tests';

/** A decider whose approvals start an execution, as the remediation layer's do. */
const executingDecider: ProposalDecider = {
  async decide(request: DecisionRequest): Promise<DecisionOutcome> {
    return { status: 'executing', message: 'approved; executing', proposalId: request.proposalId };
  },
  async findUserByChatId() {
    return 'bob';
  },
};

/** Creates a reader that returns `executing` for the first reads, then the final status. */
function proposalReader(final: ProposalStatus, result: string, executingReads = 2) {
  let reads = 0;
  return {
    get reads() {
      return reads;
    },
    async getProposal(id: string): Promise<ProposalView | undefined> {
      reads += 1;
      const status = reads > executingReads ? final : 'executing';
      return { id, status, ...(status === final ? { result } : {}) } as ProposalView;
    },
  };
}

const apps: FastifyInstance[] = [];

afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

async function approveWith(reader: ReturnType<typeof proposalReader>, updates: KnownBlock[][], maxWaitMs = 5_000) {
  const slackApi: SlackApi = {
    postMessage: async () => ({ channel: 'C0OPS', ts: '1.000001' }),
    updateMessage: async ({ blocks }) => void updates.push(blocks),
    postEphemeral: async () => undefined,
  };
  const app = Fastify({ logger: false });
  apps.push(app);
  registerSlackInteractivity(app, {
    signingSecret: SIGNING_SECRET,
    decider: executingDecider,
    audit: { record: async () => undefined },
    api: slackApi,
    logger: pino({ level: 'silent' }),
    proposals: reader,
    executionWait: { pollMs: 10, maxWaitMs },
  });
  const payload = {
    type: 'block_actions',
    user: { id: 'U0BOB' },
    container: { channel_id: 'C0OPS', message_ts: '1.000001' },
    message: {
      ts: '1.000001',
      text: 'lag alert',
      blocks: [{ type: 'actions', block_id: `${PROPOSAL_BLOCK_PREFIX}prop-run`, elements: [] }],
    },
    actions: [{ action_id: APPROVE_ACTION_ID, value: 'prop-run', action_ts: '1.1' }],
  };
  const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
  const timestamp = String(Math.floor(Date.now() / 1000));
  const response = await app.inject({
    method: 'POST',
    url: SLACK_INTERACTIVITY_PATH,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': timestamp,
      'x-slack-signature': signSlackRequest(SIGNING_SECRET, timestamp, body),
    },
    payload: body,
  });
  expect(response.statusCode).toBe(200);
}

describe('Slack message after approval', () => {
  it('shows the execution result', async () => {
    const updates: KnownBlock[][] = [];
    await approveWith(proposalReader('executed', 'requeued 12 jobs'), updates);

    await vi.waitFor(() => expect(updates).toHaveLength(2));
    expect(JSON.stringify(updates[0])).toContain('; executing');
    const final = JSON.stringify(updates[1]);
    expect(final).toContain('Approved by <@U0BOB> (bob)');
    expect(final).toContain('; executed: requeued 12 jobs');
    expect(final).not.toContain('; executing');
  });

  it('shows a failed execution', async () => {
    const updates: KnownBlock[][] = [];
    await approveWith(proposalReader('failed', 'queue_job 4711 not found'), updates);

    await vi.waitFor(() => expect(updates).toHaveLength(2));
    expect(JSON.stringify(updates[1])).toContain('execution failed: queue_job 4711 not found');
  });

  it('stops reading after the wait', async () => {
    const updates: KnownBlock[][] = [];
    const reader = proposalReader('executed', 'never reached', 1_000_000);
    await approveWith(reader, updates, 100);

    await vi.waitFor(() => expect(reader.reads).toBeGreaterThan(0));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const reads = reader.reads;
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(reader.reads).toBe(reads);
    expect(updates).toHaveLength(1);
  });
});
