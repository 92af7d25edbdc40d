import { describe, expect, it } from 'vitest';
import { InProcessQueue, type InProcessMessage } from '../../../simulator/index.js';

const NOW = new Date('2026-05-04T08:00:00.000Z');

function createQueue(maxDepth?: number): InProcessQueue {
  return new InProcessQueue({
    name: 'demo.mes.material_consumption',
    integration: 'odoo-mes',
    workflow: 'material_consumption',
    intervalMs: 1_000,
    maxDepth,
  });
}

function createMessage(id: string, ageMs: number): InProcessMessage {
  return { id, publishedAtMs: NOW.getTime() - ageMs, headers: {}, body: { id } };
}

async function sampleOf(queue: InProcessQueue, now = NOW) {
  const { samples, failures } = await queue.poll(now);
  expect(failures).toEqual([]);
  expect(samples).toHaveLength(1);
  return samples[0]!;
}

describe('InProcessQueue', () => {
  it('reports age of oldest message', async () => {
    const queue = createQueue();
    queue.publish(createMessage('a', 5_000));
    queue.publish(createMessage('b', 1_000));

    const sample = await sampleOf(queue);
    expect(sample.lagSeconds).toBe(5);
    expect(sample.lagEstimated).toBe(false);
    expect(sample.depth).toBe(2);
    expect(sample.inFlight).toBe(0);
    expect(sample.consumers).toBe(0);
    expect(sample.status).toBe('ok');
    expect(sample.sourceKind).toBe('in_process');
    expect(sample.source).toBe('demo.mes.material_consumption');
    expect(sample.entity).toBe('demo.mes.material_consumption');
    expect(sample.integration).toBe('odoo-mes');
    expect(sample.workflow).toBe('material_consumption');
    expect(sample.observedAt).toBe(NOW);
  });

  it('reports zero lag when idle', async () => {
    const sample = await sampleOf(createQueue());
    expect(sample.lagSeconds).toBe(0);
    expect(sample.depth).toBe(0);
    expect(sample.inflowPerSecond).toBeUndefined();
    expect(sample.outflowPerSecond).toBeUndefined();
  });

  it('delivers up to the prefetch', async () => {
    const queue = createQueue();
    const delivered: Array<{ id: string; tag: number }> = [];
    queue.consume('worker-1', 2, (message, tag) => delivered.push({ id: message.id, tag }));
    for (const id of ['a', 'b', 'c']) queue.publish(createMessage(id, 1_000));

    expect(delivered.map((delivery) => delivery.id)).toEqual(['a', 'b']);
    let sample = await sampleOf(queue);
    expect(sample.depth).toBe(1);
    expect(sample.inFlight).toBe(2);
    expect(sample.consumers).toBe(1);

    queue.ack(delivered[0]!.tag);
    expect(delivered.map((delivery) => delivery.id)).toEqual(['a', 'b', 'c']);
    sample = await sampleOf(queue);
    expect(sample.depth).toBe(0);
    expect(sample.inFlight).toBe(2);
    expect(sample.lagSeconds).toBe(0);
  });

  it('keeps lag growing while paused', async () => {
    const queue = createQueue();
    queue.consume('worker-1', 1, () => undefined);
    queue.cancel('worker-1');
    queue.publish(createMessage('a', 0));

    const later = new Date(NOW.getTime() + 30_000);
    const sample = await sampleOf(queue, later);
    expect(sample.lagSeconds).toBe(30);
    expect(sample.consumers).toBe(0);
  });

  it('counts unacked messages after resume', async () => {
    const queue = createQueue();
    const delivered: Array<{ id: string; tag: number }> = [];
    queue.consume('worker-1', 1, (message, tag) => delivered.push({ id: message.id, tag }));
    queue.publish(createMessage('a', 0));
    queue.cancel('worker-1');
    queue.publish(createMessage('b', 0));

    queue.consume('worker-1', 1, (message, tag) => delivered.push({ id: message.id, tag }));
    expect(delivered.map((delivery) => delivery.id)).toEqual(['a']);

    queue.ack(delivered[0]!.tag);
    expect(delivered.map((delivery) => delivery.id)).toEqual(['a', 'b']);
  });

  it('requeues when a consumer is gone', async () => {
    const queue = createQueue();
    queue.consume('worker-1', 1, () => undefined);
    queue.publish(createMessage('a', 2_000));
    expect((await sampleOf(queue)).inFlight).toBe(1);

    queue.cancel('worker-1', true);
    const sample = await sampleOf(queue);
    expect(sample.inFlight).toBe(0);
    expect(sample.depth).toBe(1);
    expect(sample.lagSeconds).toBe(2);

    const redelivered: string[] = [];
    queue.consume('worker-2', 1, (message) => redelivered.push(message.id));
    expect(redelivered).toEqual(['a']);
  });

  it('computes rates between polls', async () => {
    const queue = createQueue();
    const tags: number[] = [];
    queue.consume('worker-1', 10, (_message, tag) => tags.push(tag));
    await sampleOf(queue);

    for (const id of ['a', 'b', 'c', 'd']) queue.publish(createMessage(id, 0));
    queue.ack(tags[0]!);
    queue.ack(tags[1]!);

    const sample = await sampleOf(queue, new Date(NOW.getTime() + 2_000));
    expect(sample.inflowPerSecond).toBe(2);
    expect(sample.outflowPerSecond).toBe(1);
  });

  it('drops messages when full', async () => {
    const queue = createQueue(1);
    expect(queue.publish(createMessage('a', 0))).toBe(true);
    expect(queue.publish(createMessage('b', 0))).toBe(false);

    const sample = await sampleOf(queue);
    expect(sample.depth).toBe(1);
    expect(sample.detail).toBe('queue full or closed, dropped 1 message');
  });
});
