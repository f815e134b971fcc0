import { Queue } from 'bullmq';
import { connectCaller, sendControl } from '../../infra/transport/index.js';
import { QUEUE_NAME, queueOptions } from '../../infra/transport/bullmq/connection.js';
import { TRANSPORTS, type TransportKind } from '../../infra/transport/types.js';
import { topologyFor, type ControlMessage } from '../../infra/protocol.js';
import { AMQP_URL, consumerCount, quietLogger, REDIS_URL } from './broker.js';

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

/** Sends a control message on the pool's transport, as the end-client does. */
export function sendControlTo(namespace: string, transport: TransportKind, message: ControlMessage): Promise<{ routed: boolean }> {
  return sendControl({ transport, amqpUrl: AMQP_URL, redisUrl: REDIS_URL, topology: topologyFor(namespace), deliveryLimit: 5, logger: quietLogger }, message);
}

export { connectCaller };
