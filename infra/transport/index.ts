import type { ConfirmChannel } from 'amqplib';
import { connectBroker } from '../amqp/connection.js';
import { publishControl as publishAmqpControl } from '../amqp/control.js';
import { assertTopology } from '../amqp/topology.js';
import type { ControlMessage } from '../protocol.js';
import { RabbitRpcClient } from './rabbitmq/rpc-client.js';
import { publishControl as publishRedisControl } from './bullmq/control.js';
import { withRedisOnce } from './bullmq/connection.js';
import { BullmqRpcClient } from './bullmq/rpc-client.js';
import { redisUrlOf, type TransportTarget } from './consumer.js';
import type { RpcCaller } from './types.js';

/**
 * The client side's factories: the producer's caller and the end-client's
 * control message, for the chosen transport. (The worker's is in consumer.ts.)
 */
export { BullmqDispatcherLink } from './bullmq/dispatcher-link.js';
export type { TransportTarget };

/** The producer's client for the chosen transport. */
export function connectCaller(target: TransportTarget & { maxBodyBytes: number; name: string; initialMaxRetries?: number }): Promise<RpcCaller> {
  if (target.transport === 'bullmq') {
    return BullmqRpcClient.connect({
      redisUrl: redisUrlOf(target),
      namespace: target.topology.namespace,
      deliveryLimit: target.deliveryLimit,
      maxBodyBytes: target.maxBodyBytes,
      name: target.name,
      logger: target.logger,
    });
  }
  return RabbitRpcClient.connect(target);
}

/** Sends one control message (the end-client); resolves with whether anyone was listening. */
export async function sendControl(target: TransportTarget, message: ControlMessage): Promise<{ routed: boolean }> {
  if (target.transport === 'bullmq') {
    return withRedisOnce(redisUrlOf(target), 'shoal end-client', (redis) => publishRedisControl(redis, target.topology.namespace, message));
  }
  let channel: ConfirmChannel | undefined;
  const connection = await connectBroker({
    url: target.amqpUrl,
    name: 'shoal end-client',
    logger: target.logger,
    initialMaxRetries: 2,
    setup: async (model) => {
      channel = await model.createConfirmChannel();
      await assertTopology(channel, target.topology, { deliveryLimit: target.deliveryLimit });
    },
  });
  try {
    return await publishAmqpControl(channel!, target.topology, message);
  } finally {
    await channel?.close().catch(() => undefined);
    await connection.close();
  }
}

