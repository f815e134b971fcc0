import type { TransportAdapter } from '../target.js';
import { RabbitConsumer } from './consumer.js';
import { sendControlOnce } from './control.js';
import { RabbitDispatcherLink } from './dispatcher-link.js';
import { RabbitRpcClient } from './rpc-client.js';

/** The RabbitMQ adapter's constructors, one per port (see TransportAdapter). */
export const rabbitmqTransport: TransportAdapter = {
  connectCaller: (target) => RabbitRpcClient.connect(target),
  sendControl: sendControlOnce,
  createConsumer: (target) => new RabbitConsumer(target),
  connectDispatcherLink: (target) => RabbitDispatcherLink.connect(target),
};
