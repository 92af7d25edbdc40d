import { describe, expect, it } from 'vitest';
import {
  JobQueueSampleBuilder,
  MAX_EXCEPTION_MESSAGE_CHARS,
  type FailedJob,
  type JobGroupStats,
} from '../../../../collector/sources/index.js';

const NOW = new Date(Date.UTC(2026, 2, 2, 7, 30, 0));
const ORIGIN = { integration: 'odoo', source: 'odoo-jobs', sourceKind: 'queue_job' };

function stats(fields: Partial<JobGroupStats> = {}): JobGroupStats {
  return {
    channel: 'root.mrp',
    jobFunction: '<mrp.production>._release',
    counts: { wait_dependencies: 1, pending: 3, enqueued: 1, started: 2, failed: 1 },
    scheduled: 1,
    stuckStarted: 1,
    stuckEnqueued: 0,
    oldestWaitingSeconds: 42.5,
    oldestPendingSeconds: 40,
    ...fields,
  };
}

function failedJob(fields: Partial<FailedJob> = {}): FailedJob {
  return {
    uuid: 'b7c1',
    channel: 'root.mrp',
    jobFunction: '<mrp.production>._release',
    name: 'Release MO/0042',
    excName: undefined,
    excMessage: undefined,
    excInfo: 'Traceback (most recent call last):\nodoo.exceptions.UserError: Missing unit',
    failedAtMs: NOW.getTime() - 60_000,
    retry: 2,
    maxRetries: 5,
    ...fields,
  };
}

describe('JobQueueSampleBuilder', () => {
  it('builds a group sample', () => {
    const builder = new JobQueueSampleBuilder(ORIGIN, 'production_order_release');

    const [sample] = builder.buildSamples(NOW, [stats()], { clock: 'server' });

    expect(sample?.entity).toBe('root.mrp/<mrp.production>._release');
    expect(sample?.status).toBe('ok');
    expect(sample?.workflow).toBe('production_order_release');
    expect(sample?.depth).toBe(4);
    expect(sample?.inFlight).toBe(2);
    expect(sample?.failed).toBe(1);
    expect(sample?.stuck).toBe(1);
    expect(sample?.lagSeconds).toBe(42.5);
    expect(sample?.lagEstimated).toBe(false);
    expect(sample?.attributes).toEqual({
      channel: 'root.mrp',
      job_function: '<mrp.production>._release',
      clock: 'server',
      oldest_pending_seconds: '40.000',
      scheduled: '1',
      stuck_started: '1',
      stuck_enqueued: '0',
    });
  });

  it('clamps a future eta to zero', () => {
    const builder = new JobQueueSampleBuilder(ORIGIN, '');

    const [sample] = builder.buildSamples(NOW, [stats({ oldestWaitingSeconds: -30, oldestPendingSeconds: -30 })]);

    expect(sample?.lagSeconds).toBe(0);
    expect(sample?.attributes?.oldest_pending_seconds).toBe('0.000');
  });

  it('marks a truncated oldest search', () => {
    const builder = new JobQueueSampleBuilder(ORIGIN, '');

    const [sample] = builder.buildSamples(NOW, [stats({ oldestTruncated: true })]);

    expect(sample?.attributes?.oldest_search_truncated).toBe('true');
  });

  it('explains waiting jobs without dates', () => {
    const builder = new JobQueueSampleBuilder(ORIGIN, '');

    const [sample] = builder.buildSamples(NOW, [stats({ oldestWaitingSeconds: null, oldestPendingSeconds: null })]);

    expect(sample?.lagSeconds).toBeUndefined();
    expect(sample?.detail).toBe('waiting jobs have neither eta nor date_created');
  });

  it('reports zeros for a drained group', () => {
    const builder = new JobQueueSampleBuilder(ORIGIN, '');
    builder.buildSamples(NOW, [stats()]);

    const samples = builder.buildSamples(NOW, []);

    expect(samples).toHaveLength(1);
    expect(samples[0]?.entity).toBe('root.mrp/<mrp.production>._release');
    expect(samples[0]?.depth).toBe(0);
    expect(samples[0]?.lagSeconds).toBe(0);
    expect(samples[0]?.attributes?.scheduled).toBeUndefined();
  });

  it('reports an empty queue as one sample', () => {
    const builder = new JobQueueSampleBuilder(ORIGIN, '');

    const samples = builder.buildSamples(NOW, []);

    expect(samples).toHaveLength(1);
    expect(samples[0]?.entity).toBe('*');
    expect(samples[0]?.status).toBe('ok');
    expect(samples[0]?.lagSeconds).toBe(0);
    expect(samples[0]?.stateCounts).toEqual({ wait_dependencies: 0, pending: 0, enqueued: 0, started: 0, failed: 0 });
    expect(samples[0]?.attributes).toBeUndefined();
  });

  it('reports known groups as down', () => {
    const builder = new JobQueueSampleBuilder(ORIGIN, '');
    expect(builder.buildDownSamples(NOW, 'connection refused').map((sample) => sample.entity)).toEqual(['*']);
    builder.buildSamples(NOW, [stats(), stats({ channel: 'root.stock' })]);

    const samples = builder.buildDownSamples(NOW, 'connection refused');

    expect(samples.map((sample) => sample.entity)).toEqual([
      'root.mrp/<mrp.production>._release',
      'root.stock/<mrp.production>._release',
    ]);
    for (const sample of samples) {
      expect(sample.status).toBe('source_down');
      expect(sample.detail).toBe('connection refused');
    }
  });

  it('reads a failure from its traceback', () => {
    const builder = new JobQueueSampleBuilder(ORIGIN, 'production_order_release');

    const failure = builder.buildFailure(NOW, failedJob());

    expect(failure.exceptionName).toBe('odoo.exceptions.UserError');
    expect(failure.exceptionMessage).toBe('Missing unit');
    expect(failure.entity).toBe('root.mrp/<mrp.production>._release');
    expect(failure.failedAt).toEqual(new Date(NOW.getTime() - 60_000));
    expect(failure.retryCount).toBe(2);
    expect(failure.attributes).toEqual({
      channel: 'root.mrp',
      job_function: '<mrp.production>._release',
      job_name: 'Release MO/0042',
      max_retries: '5',
    });
  });

  it('truncates a long exception message', () => {
    const builder = new JobQueueSampleBuilder(ORIGIN, '');

    const failure = builder.buildFailure(NOW, failedJob({ excName: 'ValueError', excMessage: 'x'.repeat(10_000) }));

    expect(failure.exceptionName).toBe('ValueError');
    expect(failure.exceptionMessage).toHaveLength(MAX_EXCEPTION_MESSAGE_CHARS);
  });

  it('flags an unknown failure time', () => {
    const builder = new JobQueueSampleBuilder(ORIGIN, '');

    const failure = builder.buildFailure(NOW, failedJob({ failedAtMs: undefined }));

    expect(failure.failedAt).toEqual(NOW);
    expect(failure.attributes?.failed_at_unknown).toBe('true');
  });
});
