import { jetstream, jetstreamManager, JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { connect, headers as createHeaders, type MsgHdrs } from '@nats-io/transport-node';
import type { ControlStore } from '../control-store.js';
import { checkHold } from './control-plane.js';
import type { ActionExecutor, TargetContext, TargetOutcome } from './types.js';

/** Header a producer sets on a dead letter to name the subject it was first published to. */
export const ORIGINAL_SUBJECT_HEADER = 'Nats-Original-Subject';
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * Republishes the messages of a JetStream dead-letter stream to their
 * original subject, then deletes each one from the dead-letter stream.
 * Every copy carries `Nats-Msg-Id` = proposal, stream and sequence, so when a
 * killed run republishes a message again after a restart, JetStream drops the
 * second copy as a duplicate.
 *
 * NOTE: JetStream drops a copy only within the target stream's
 * `duplicate_window`, two minutes by default. A run resumed later than that
 * republishes a message whose earlier copy was stored but not yet deleted here.
 */
export class NatsRepublishExecutor implements ActionExecutor {
  constructor(
    private readonly servers: string[],
    private readonly store: ControlStore,
  ) {}

  async runTarget({ proposal, target, progress }: TargetContext): Promise<TargetOutcome> {
    const held = await checkHold(this.store, proposal.integration, target.ref);
    if (held) return held;
    const connection = await connect({ servers: this.servers, timeout: CONNECT_TIMEOUT_MS, name: 'syncwatch-remediation' });
    try {
      const manager = await jetstreamManager(connection);
      const client = jetstream(connection);
      const stream = target.ref;
      const info = await manager.streams.info(stream);
      const lastSequence = Math.min(Number(proposal.params.lastSequence ?? info.state.last_seq), info.state.last_seq);
      const fallbackSubject = typeof proposal.params.subject === 'string' ? proposal.params.subject : undefined;
      let duplicates = 0;
      for (let sequence = info.state.first_seq; sequence <= lastSequence && info.state.messages > 0; sequence += 1) {
        if ((await progress.states([String(sequence)])).get(String(sequence)) === 'done') {
          // Republished by a run that stopped before deleting it here.
          await manager.streams.deleteMessage(stream, sequence, false).catch(ignoreMissing);
          continue;
        }
        const stored = await readMessage(manager, stream, sequence);
        if (stored === undefined) continue;
        const subject = stored.header?.get(ORIGINAL_SUBJECT_HEADER) || fallbackSubject;
        if (!subject) {
          return { state: 'failed', result: `message ${sequence} of ${stream} has no ${ORIGINAL_SUBJECT_HEADER} header and no subject is configured` };
        }
        const ack = await client.publish(subject, stored.data, {
          msgID: `${proposal.id}:${stream}:${sequence}`,
          headers: copyHeaders(stored.header, proposal.id),
        });
        if (ack.duplicate) duplicates += 1;
        await progress.markDone([String(sequence)]);
        await manager.streams.deleteMessage(stream, sequence, false).catch(ignoreMissing);
      }
      const moved = await progress.countDone();
      const duplicateNote = duplicates > 0 ? `, ${duplicates} dropped by JetStream as copies of an earlier attempt` : '';
      return { state: 'done', result: `${moved} messages republished from ${stream}${duplicateNote}` };
    } finally {
      await connection.close().catch(() => undefined);
    }
  }

  async close(): Promise<void> {}
}

async function readMessage(
  manager: Awaited<ReturnType<typeof jetstreamManager>>,
  stream: string,
  sequence: number,
): Promise<{ data: Uint8Array; header: MsgHdrs | undefined } | undefined> {
  try {
    const stored = await manager.streams.getMessage(stream, { seq: sequence });
    return stored ? { data: stored.data, header: stored.header } : undefined;
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}

function copyHeaders(source: MsgHdrs | undefined, proposalId: string): MsgHdrs {
  const target = createHeaders();
  for (const [key, values] of source ?? []) {
    if (key.startsWith('Nats-')) continue;
    for (const value of values) target.append(key, value);
  }
  target.set('X-Syncwatch-Replay', proposalId);
  return target;
}

function isMissing(error: unknown): boolean {
  return error instanceof JetStreamApiError && error.code === JetStreamApiCodes.NoMessageFound;
}

function ignoreMissing(error: unknown): boolean {
  if (isMissing(error)) return false;
  throw error;
}
