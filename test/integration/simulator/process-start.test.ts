import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { OutputTail, ProcessStartError, waitForReady } from '../../../simulator/index.js';

const TAIL_BYTES = 64;
const children: ChildProcess[] = [];

/** Starts `node -e script` with an IPC channel and its stderr collected into `tail`. */
function startChild(script: string, tail: OutputTail): ChildProcess {
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  child.stderr?.on('data', (chunk: Buffer) => tail.append(chunk));
  children.push(child);
  return child;
}

async function catchStartError(promise: Promise<unknown>): Promise<ProcessStartError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(ProcessStartError);
  return error as ProcessStartError;
}

afterEach(() => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});

describe('OutputTail', () => {
  it('keeps the last bytes only', () => {
    const tail = new OutputTail(8);
    tail.append(Buffer.from('first line\n'));
    tail.append(Buffer.from('last\n'));
    expect(tail.read()).toBe('ne\nlast');
  });

  it('reads empty without output', () => {
    expect(new OutputTail(8).read()).toBe('');
  });
});

describe('waitForReady', () => {
  it('returns the reported port', async () => {
    const tail = new OutputTail(TAIL_BYTES);
    const child = startChild(`process.send({ type: 'ready', port: 4321 }); setTimeout(() => {}, 10_000);`, tail);
    await expect(waitForReady(child, 'odoo', 10_000, tail)).resolves.toBe(4321);
  });

  it('reports exit code and stderr', async () => {
    const tail = new OutputTail(TAIL_BYTES);
    const child = startChild(`console.error('${'x'.repeat(100)}'); console.error('cannot load module'); process.exit(3);`, tail);
    const error = await catchStartError(waitForReady(child, 'odoo', 10_000, tail));

    expect(error.code).toBe('SIMULATOR_ERR_PROCESS_START');
    expect(error.failure.exitCode).toBe(3);
    expect(error.failure.timedOut).toBe(false);
    expect(error.failure.stderrTail.endsWith('cannot load module')).toBe(true);
    expect(error.failure.stderrTail.length).toBeLessThanOrEqual(TAIL_BYTES);
    expect(error.message).toContain(`system process odoo (pid ${child.pid}) exited with code 3`);
    expect(error.message).toContain('cannot load module');
  });

  it('reports the ending signal', async () => {
    const tail = new OutputTail(TAIL_BYTES);
    const child = startChild(`setTimeout(() => {}, 10_000);`, tail);
    const waiting = waitForReady(child, 'wms', 10_000, tail);
    child.kill('SIGKILL');
    const error = await catchStartError(waiting);

    expect(error.failure.signal).toBe('SIGKILL');
    expect(error.failure.exitCode).toBeNull();
    expect(error.message).toContain('was ended by signal SIGKILL');
    expect(error.message).toContain('it wrote nothing to stderr');
  });

  it('times out a silent process', async () => {
    const tail = new OutputTail(TAIL_BYTES);
    const child = startChild(`console.error('loading telemetry'); setTimeout(() => {}, 10_000);`, tail);
    // The child must have written its line before the timeout for the tail to contain it.
    await new Promise((resolve) => child.stderr?.once('data', resolve));
    const error = await catchStartError(waitForReady(child, 'mes-plant-a', 200, tail));

    expect(error.failure.timedOut).toBe(true);
    expect(error.failure.stderrTail).toBe('loading telemetry');
    expect(error.message).toContain('did not report ready within 200 ms and is still running');
    expect(error.message).toContain('loading telemetry');
    expect(child.exitCode).toBeNull();
  });
});
