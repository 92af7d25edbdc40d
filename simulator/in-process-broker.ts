import type { ChildProcess } from 'node:child_process';
import { InProcessQueue } from './in-process-queue.js';
import type { ChildMessage } from './process-protocol.js';

/**
 * Routes queue traffic of the system processes through in-process queues held
 * by the network process, so lag is measurable without a broker. Messages of a
 * queue the broker does not hold are dropped.
 */
export class InProcessBroker {
  readonly #queues = new Map<string, InProcessQueue>();
  readonly #consumersByProcess = new Map<ChildProcess, Array<{ queue: string; consumerId: string }>>();

  /** Adds a queue the system processes can publish to and consume from. */
  addQueue(queue: InProcessQueue): void {
    this.#queues.set(queue.name, queue);
  }

  get queues(): InProcessQueue[] {
    return [...this.#queues.values()];
  }

  /** Applies a queue message (publish, consume, cancel, ack) from a system process. */
  handle(child: ChildProcess, message: ChildMessage): void {
    if (message.type === 'publish') {
      this.#queues.get(message.queue)?.publish(message.message);
      return;
    }
    if (message.type === 'ack') {
      this.#queues.get(message.queue)?.ack(message.deliveryTag);
      return;
    }
    if (message.type === 'cancel') {
      this.#queues.get(message.queue)?.cancel(message.consumerId);
      return;
    }
    if (message.type === 'consume') this.#consume(child, message.queue, message.consumerId, message.prefetch);
  }

  /** Removes every consumer of a process that went away and requeues its unacknowledged messages. */
  releaseProcess(child: ChildProcess): void {
    for (const { queue, consumerId } of this.#consumersByProcess.get(child) ?? []) {
      this.#queues.get(queue)?.cancel(consumerId, true);
    }
    this.#consumersByProcess.delete(child);
  }

  async close(): Promise<void> {
    await Promise.all(this.queues.map((queue) => queue.close()));
  }

  #consume(child: ChildProcess, queueName: string, consumerId: string, prefetch: number): void {
    const queue = this.#queues.get(queueName);
    if (!queue) return;

    const registered = this.#consumersByProcess.get(child) ?? [];
    registered.push({ queue: queueName, consumerId });
    this.#consumersByProcess.set(child, registered);
    queue.consume(consumerId, prefetch, (message, deliveryTag) => {
      if (child.connected) child.send({ type: 'deliver', queue: queueName, consumerId, deliveryTag, message });
    });
  }
}
