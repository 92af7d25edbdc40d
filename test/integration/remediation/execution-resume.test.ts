import { afterAll, describe, expect, it } from 'vitest';
import type { ActionExecutor, TargetContext, TargetOutcome } from '../../../remediation/executors/types.js';
import { ControlPlaneHarness, routeDraft } from './harness.js';

const harness = new ControlPlaneHarness('postgres');

afterAll(() => harness.cleanup());

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
  it('skips targets a stopped run finished', async () => {
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
    const [result] = await second.runPendingExecutions();

    expect(outcome.status).toBe('executing');
    expect(stalled.ran).toEqual(['a', 'b']);
    expect(resumedExecutor.ran).toEqual(['b', 'c']);
    expect(result?.status).toBe('executed');
    const view = await second.getProposal(draft.id);
    expect(view?.targets.map((target) => target.state)).toEqual(['done', 'done', 'done']);
    const { rows } = await second.store.query<{ resumes: number }>('SELECT resumes FROM executions WHERE proposal_id = $1', [draft.id]);
    expect(rows).toEqual([{ resumes: 1 }]);
    await second.close();
    // The first instance still waits on its stalled target, so its store is ended without waiting for it.
    harness.opened.length = 0;
    await first.store.close();
  });
});
