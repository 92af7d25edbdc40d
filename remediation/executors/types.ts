import type { ProposalTarget } from '../contract.js';
import type { StoredProposal, StoredTarget } from '../proposals.js';

/** Result of running one target. */
export interface TargetOutcome {
  state: Exclude<ProposalTarget['state'], 'pending'>;
  /** One-line account of the change, such as `requeued` or `498 messages moved to orders.in`. */
  result: string;
}

/**
 * Per-message progress of one target, kept in the control-plane store, so a
 * restarted execution can skip the messages it already handled.
 */
export interface MessageProgress {
  /** Returns the recorded state of each given key that was seen before. */
  states(keys: readonly string[]): Promise<Map<string, 'publishing' | 'done'>>;
  markPublishing(keys: readonly string[]): Promise<void>;
  markDone(keys: readonly string[]): Promise<void>;
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
