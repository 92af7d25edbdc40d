import { afterAll, describe, expect, it } from 'vitest';
import type { ActionExecutor, TargetContext, TargetOutcome } from '../../../remediation/executors/types.js';
import pg from 'pg';
import { ControlPlaneHarness, POSTGRES_URL, routeDraft } from './harness.js';

const harness = new ControlPlaneHarness('postgres');

afterAll(() => harness.cleanup());

/** Ends the database session that holds a proposal's execution lock, as the death of its process would. */
async function terminateLockHolder(proposalId: string): Promise<void> {
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  const { rows } = await admin.query<{ terminated: boolean }>(
    `SELECT pg_terminate_backend(pid) AS terminated FROM pg_locks
      WHERE locktype = 'advisory' AND granted AND objid::bigint = (hashtext($1)::bigint & 4294967295)`,
    [`syncwatch-execution:${proposalId}`],
  );
  await admin.end();
  if (rows.length !== 1) throw new Error(`expected one session holding the lock of ${proposalId}, found ${rows.length}`);
}

/** Records the targets it runs; with `stallAt`, never finishes that target, as a process that died there. */
class RecordingExecutor implements ActionExecutor {
  readonly ran: string[] = [];
  reachedStall: Promise<void>;
  #signalStall: () => void = () => undefined;

  constructor(private readonly stallAt?: string) {
    this.reachedStall = new Promise((resolve) => (this.#signalStall = resolve));
  }

  async runTarget({ target }: TargetContext): Promise<TargetOutcome> {
    this.ran.push(target.ref);
    if (target.ref === this.stallAt) {
      this.#signalStall();
      return new Promise(() => undefined);
    }
    return { state: 'done', result: `ran ${target.ref}` };
  }

  async close(): Promise<void> {}
}

describe('execution resume', () => {
  it('resumes only after the runner dies', async () => {
    const stalled = new RecordingExecutor('b');
    const first = await harness.open({ executors: { reroute: stalled } });
    const draft = routeDraft({
      targets: ['a', 'b', 'c'].map((ref) => ({ kind: 'workflow_route', ref })),
    });
    await first.storeProposal(draft);
    const outcome = await first.decide({ proposalId: draft.id, decision: 'approve', userName: 'alice', channel: 'api' });
    await stalled.reachedStall;

    const resumedExecutor = new RecordingExecutor();
    const second = await harness.open({ executors: { reroute: resumedExecutor } });
    const whileRunning = await second.runPendingExecutions();
    await terminateLockHolder(draft.id);
    const [result] = await second.runPendingExecutions();

    expect(whileRunning).toEqual([]);
    expect(outcome.status).toBe('executing');
    expect(stalled.ran).toEqual(['a', 'b']);
    expect(resumedExecutor.ran).toEqual(['b', 'c']);
    expect(result?.status).toBe('executed');
    const view = await second.getProposal(draft.id);
    expect(view?.targets.map((target) => target.state)).toEqual(['done', 'done', 'done']);
    const { rows } = await second.store.query<{ resumes: number }>('SELECT resumes FROM executions WHERE proposal_id = $1', [draft.id]);
    expect(rows).toEqual([{ resumes: 1 }]);
    await second.close();
    // The first instance still waits on its stalled target, so it is left open, as a dead process would be.
    harness.opened.length = 0;
  });
});
