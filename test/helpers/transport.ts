import { Queue } from 'bullmq';
import { connectCaller, sendControl } from '../../infra/transport/factory.js';
import { QUEUE_NAME, queueOptions } from '../../infra/transport/bullmq/connection.js';
import { TRANSPORTS, type TransportKind } from '../../infra/transport/types.js';
import { topologyFor } from '../../infra/amqp/topology.js';
import type { ControlMessage } from '../../infra/protocol.js';
import { AMQP_URL, closeConnection, consumerCount, findConnection, quietLogger, rawChannel, REDIS_URL } from './broker.js';
import { killRedisClients } from './redis.js';

/** Every transport, for describe.each: the same tests run once on each. */
export const EACH_TRANSPORT: TransportKind[] = [...TRANSPORTS];

/** The flag that puts a command on a transport. */
export function transportArgs(transport: TransportKind): string[] {
  return ['--transport', transport];
}

/** Workers consuming the pool's queue: RabbitMQ's consumers, or BullMQ workers connected to Redis. */
export async function poolConsumers(namespace: string, transport: TransportKind): Promise<number> {
  if (transport === 'rabbitmq') return consumerCount(topologyFor(namespace));
  const queue = new Queue(QUEUE_NAME, queueOptions(REDIS_URL, namespace, 'shoal test probe'));
  try {
    return await queue.getWorkersCount();
  } finally {
    await queue.close();
  }
}

/** Requests waiting in the pool's queue, not yet handed to a worker. */
export async function queuedRequests(namespace: string, transport: TransportKind): Promise<number> {
  if (transport === 'rabbitmq') {
    const { channel, connection } = await rawChannel();
    try {
      return (await channel.checkQueue(topologyFor(namespace).requestQueue)).messageCount;
    } finally {
      await connection.close();
    }
  }
  const queue = new Queue(QUEUE_NAME, queueOptions(REDIS_URL, namespace, 'shoal test probe'));
  try {
    return await queue.getWaitingCount();
  } finally {
    await queue.close();
  }
}

/** Sends a control message on the pool's transport, as the end-client does. */
export function sendControlTo(namespace: string, transport: TransportKind, message: ControlMessage): Promise<{ routed: boolean }> {
  return sendControl({ transport, amqpUrl: AMQP_URL, redisUrl: REDIS_URL, topology: topologyFor(namespace), deliveryLimit: 5, logger: quietLogger }, message);
}

export { connectCaller };

/** Whose connections a test drops: a worker's (by its id, which must be unique to the test) or the test client's. */
export type ConnectionSide = { worker: string } | 'client';

/**
 * Readies a drop of one side's connections from the broker's end, as a
 * network fault would, and returns the drop, which says how many it closed.
 * RabbitMQ: the management API closes the named connection (found now: its
 * list lags by seconds). BullMQ: CLIENT KILL of the side's Redis connections,
 * by name; Redis itself keeps running. A worker's are `shoal-worker-<id>` (and
 * `-control`) and BullMQ's blocking one `<ns>:bullmq:<queue>:w:<id>`; the test
 * client's are `shoal-test-client-<ns>` and its events reader `<ns>:bullmq:<queue>:qe`.
 */
export async function connectionDropper(transport: TransportKind, namespace: string, side: ConnectionSide): Promise<() => Promise<number>> {
  if (transport === 'rabbitmq') {
    const connection = await findConnection(side === 'client' ? `shoal test client ${namespace}` : `shoal worker ${side.worker}`);
    return async () => {
      await closeConnection(connection);
      return 1;
    };
  }
  const mine = side === 'client'
    ? (name: string) => name.startsWith(`shoal-test-client-${namespace}`) || (name.startsWith(`${namespace}:`) && name.endsWith(':qe'))
    : (name: string) => name.startsWith(`shoal-worker-${side.worker}`) || (name.startsWith(`${namespace}:`) && name.endsWith(`:w:${side.worker}`));
  return async () => killRedisClients(mine).length;
}
