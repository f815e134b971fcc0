import type { ConfirmChannel } from 'amqplib';
import { connectBroker } from '../../amqp/connection.js';
import { publishControl } from '../../amqp/control.js';
import { assertTopology } from '../../amqp/topology.js';
import type { ControlMessage } from '../../protocol.js';
import type { TransportTarget } from '../target.js';

/**
 * Sends one control message on a connection of its own (the end-client):
 * declares the topology, publishes with a confirm, disconnects. Resolves with
 * whether anyone was listening.
 */
export async function sendControlOnce(target: TransportTarget, message: ControlMessage): Promise<{ routed: boolean }> {
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
    return await publishControl(channel!, target.topology, message);
  } finally {
    await channel?.close().catch(() => undefined);
    await connection.close();
  }
}
