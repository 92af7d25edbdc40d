import type { ChildProcess } from 'node:child_process';
import type { ChildMessage } from './process-protocol.js';

/** Keeps the last bytes written to a stream, such as a child's stderr. */
export class OutputTail {
  readonly #maxBytes: number;
  #buffer = Buffer.alloc(0);

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  append(chunk: Buffer): void {
    const joined = Buffer.concat([this.#buffer, chunk]);
    this.#buffer = joined.length > this.#maxBytes ? joined.subarray(joined.length - this.#maxBytes) : joined;
  }

  /** Returns the kept output as text without surrounding whitespace. */
  read(): string {
    return this.#buffer.toString('utf8').trim();
  }
}

/** Details of a system process that did not become ready. */
export interface ProcessStartFailure {
  instanceId: string;
  pid: number | undefined;
  /** Exit code, or null when the process was ended by a signal or is still running. */
  exitCode: number | null;
  /** Signal that ended the process, or null. */
  signal: NodeJS.Signals | null;
  /** True when the start timed out while the process was still running. */
  timedOut: boolean;
  timeoutMs: number;
  /** Last part of the process's stderr output, empty when it wrote none. */
  stderrTail: string;
}

/** A system process of the demo network that exited or timed out before it reported ready. */
export class ProcessStartError extends Error {
  readonly code = 'SIMULATOR_ERR_PROCESS_START';
  readonly failure: ProcessStartFailure;

  constructor(failure: ProcessStartFailure) {
    super(`SIMULATOR_ERR_PROCESS_START: ${describeStartFailure(failure)}`);
    this.name = 'ProcessStartError';
    this.failure = failure;
  }
}

function describeStartFailure(failure: ProcessStartFailure): string {
  const subject = `system process ${failure.instanceId} (pid ${failure.pid ?? 'unknown'})`;
  const stderr = failure.stderrTail ? `its last stderr output:\n${failure.stderrTail}` : 'it wrote nothing to stderr';
  if (failure.timedOut) {
    return (
      `${subject} did not report ready within ${failure.timeoutMs} ms and is still running, so ${stderr}\n` +
      'Start the demo again once the machine is less loaded, or look for a hang in that output.'
    );
  }
  const ending = failure.signal ? `was ended by signal ${failure.signal}` : `exited with code ${failure.exitCode}`;
  return `${subject} ${ending} before it reported ready, and ${stderr}`;
}

/**
 * Waits until a forked system process sends its `ready` message and returns
 * the port it reported. Rejects with a `ProcessStartError` that carries the
 * tail of the child's stderr output when the child exits first or stays
 * silent for `timeoutMs`. The caller stops a child that timed out.
 */
export function waitForReady(
  child: ChildProcess,
  instanceId: string,
  timeoutMs: number,
  stderr: OutputTail,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const fail = (exitCode: number | null, signal: NodeJS.Signals | null, timedOut: boolean) => {
      cleanUp();
      const stderrTail = stderr.read();
      reject(new ProcessStartError({ instanceId, pid: child.pid, exitCode, signal, timedOut, timeoutMs, stderrTail }));
    };
    const onTimeout = () => fail(null, null, true);
    // 'close' fires after the stderr pipe ended, so the tail contains everything the child wrote.
    const onClose = (code: number | null, signal: NodeJS.Signals | null) => fail(code, signal, false);
    const onMessage = (message: ChildMessage) => {
      if (message.type !== 'ready') return;
      cleanUp();
      resolve(message.port);
    };
    const timer = setTimeout(onTimeout, timeoutMs);
    const cleanUp = () => {
      clearTimeout(timer);
      child.off('close', onClose);
      child.off('message', onMessage);
    };

    child.on('close', onClose);
    child.on('message', onMessage);
  });
}
