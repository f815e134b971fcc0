import type { RecoveringChannelModel } from 'amqplib';
import { connectBroker } from '../infra/amqp/connection.js';
import { assertTopology } from '../infra/amqp/topology.js';
import { errorMessage } from '../infra/errors.js';
import type { Logger } from '../infra/log.js';
import { decodeControl, QUIT_ROUTING_KEY, type Topology } from '../infra/protocol.js';

export interface ControlListenerOptions {
  amqpUrl: string;
  topology: Topology;
  deliveryLimit: number;
  logger: Logger;
  onQuit: () => void;
}

/**
 * The dispatcher's own broker connection: declares the pool's topology and
 * listens for `quit` on the control exchange (reconnecting if it drops).
 */
export async function listenForQuit(options: ControlListenerOptions): Promise<RecoveringChannelModel> {
  const { topology, logger } = options;
  return connectBroker({
    url: options.amqpUrl,
    name: `shoal dispatcher ${topology.requestQueue}`,
    logger,
    setup: async (model) => {
      const channel = await model.createChannel();
      channel.on('error', (err: Error) => logger.warn({ err: err.message }, 'control channel error'));
      await assertTopology(channel, topology, { deliveryLimit: options.deliveryLimit });
      const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true });
      await channel.bindQueue(queue, topology.controlExchange, QUIT_ROUTING_KEY);
      await channel.consume(queue, (msg) => {
        if (!msg) return;
        try {
          if (decodeControl(msg.content).type === 'quit') options.onQuit();
        } catch (err) {
          logger.warn({ err: errorMessage(err) }, 'ignored a bad control message');
        }
      }, { noAck: true, consumerTag: 'dispatcher.control' });
    },
  });
}
