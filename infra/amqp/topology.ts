import type { Channel } from 'amqplib';
import { ShoalError } from '../errors.js';

/** RabbitMQ's direct reply-to pseudo-queue: the producer's replies come back on it, with no queue of its own. */
export const REPLY_TO_DIRECT = 'amq.rabbitmq.reply-to';

/** The names of one pool's broker objects. */
export interface Topology {
  /** The pool it belongs to: its Redis keys and labels (BullMQ) are named after it too. */
  namespace: string;
  /** Durable quorum queue that every worker consumes from. */
  requestQueue: string;
  /** Fanout exchange the request queue dead-letters to. */
  deadExchange: string;
  /** Where poison, rejected and expired requests end up. */
  deadQueue: string;
  /** Topic exchange for `quit` (everyone) and `drain.<workerId>` (one worker). */
  controlExchange: string;
}

export function topologyFor(namespace: string): Topology {
  return {
    namespace,
    requestQueue: `${namespace}.requests`,
    deadExchange: `${namespace}.dlx`,
    deadQueue: `${namespace}.dead`,
    controlExchange: `${namespace}.control`,
  };
}

export interface TopologyOptions {
  deliveryLimit: number;
  /**
   * quorum (the default) is what shoal runs on. classic exists so the
   * benchmarks can show what the queue type costs: a classic queue (3.10)
   * has no delivery limit, so a poison message is not dead-lettered.
   */
  queueType?: 'quorum' | 'classic';
}

/**
 * Declares the broker objects of one pool. Idempotent; producers, workers and
 * the dispatcher all call it, so whoever comes first creates them.
 *
 * The request queue is a quorum queue: it survives a broker restart, counts
 * deliveries, and dead-letters a message once it goes past `x-delivery-limit`
 * (RabbitMQ 3.10 sets no default, so we set one). At-least-once dead-lettering
 * needs `overflow=reject-publish`.
 */
export async function assertTopology(channel: Channel, topology: Topology, options: TopologyOptions): Promise<void> {
  try {
    await channel.assertExchange(topology.deadExchange, 'fanout', { durable: true });
    await channel.assertQueue(topology.deadQueue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    await channel.bindQueue(topology.deadQueue, topology.deadExchange, '');
    await channel.assertQueue(topology.requestQueue, { durable: true, arguments: requestQueueArguments(topology, options) });
    await channel.assertExchange(topology.controlExchange, 'topic', { durable: true });
  } catch (err) {
    if ((err as { code?: number }).code === 406) {
      throw new ShoalError(
        'TOPOLOGY_MISMATCH',
        `a broker object of this pool exists with other settings (${(err as Error).message}). ` +
          `Use the settings it was made with (e.g. SHOAL_DELIVERY_LIMIT), or delete it: ` +
          `rabbitmqctl delete_queue ${topology.requestQueue}`,
        { cause: err },
      );
    }
    throw err;
  }
}

export function requestQueueArguments(topology: Topology, options: TopologyOptions): Record<string, unknown> {
  if (options.queueType === 'classic') {
    return { 'x-queue-type': 'classic', 'x-dead-letter-exchange': topology.deadExchange, 'x-overflow': 'reject-publish' };
  }
  return {
    'x-queue-type': 'quorum',
    'x-delivery-limit': options.deliveryLimit,
    'x-dead-letter-exchange': topology.deadExchange,
    'x-dead-letter-strategy': 'at-least-once',
    'x-overflow': 'reject-publish',
  };
}

/** Removes every broker object of a pool (tests and `cleanup`). */
export async function deleteTopology(channel: Channel, topology: Topology): Promise<void> {
  await channel.deleteQueue(topology.requestQueue);
  await channel.deleteQueue(topology.deadQueue);
  await channel.deleteExchange(topology.deadExchange);
  await channel.deleteExchange(topology.controlExchange);
}
