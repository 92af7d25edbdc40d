import type { ProposalTarget } from '../contract.js';
import type { StoredProposal, StoredTarget } from '../proposals.js';

/** Result of running one target. */
export interface TargetOutcome {
  state: Exclude<ProposalTarget['state'], 'pending'>;
  /** What happened, in one line, such as `requeued` or `498 messages moved to orders.in`. */
  result: string;
}

/**
 * Per-message progress of one target, kept in the control-plane store, so a
 * restarted execution knows which messages it already handled.
 */
export interface MessageProgress {
  /** Returns the recorded state of a message key, or undefined when it was never seen. */
  get(key: string): Promise<'publishing' | 'done' | undefined>;
  markPublishing(key: string): Promise<void>;
  markDone(key: string): Promise<void>;
  /** Keys still in `publishing`, left by an execution that stopped between the two marks. */
  listPublishing(): Promise<string[]>;
  countDone(): Promise<number>;
}

export interface TargetContext {
  proposal: StoredProposal;
  target: StoredTarget;
  progress: MessageProgress;
  /** Whether this run resumes an execution that stopped before finishing. */
  resumed: boolean;
}

/** Runs the targets of one action kind against a real system. */
export interface ActionExecutor {
  runTarget(context: TargetContext): Promise<TargetOutcome>;
  close(): Promise<void>;
}
