import { redisUrlOf, type TransportAdapter } from '../target.js';
import { withRedisOnce } from './connection.js';
import { BullmqConsumer, DEFAULT_BULLMQ_WORKER } from './consumer.js';
import { publishControl } from './control.js';
import { BullmqDispatcherLink } from './dispatcher-link.js';
import { BullmqRpcClient } from './rpc-client.js';

/** The BullMQ adapter's constructors, one per port (see TransportAdapter). The pool's namespace is the topology's. */
export const bullmqTransport: TransportAdapter = {
  connectCaller: (target) => BullmqRpcClient.connect({
    redisUrl: redisUrlOf(target),
    namespace: target.topology.namespace,
    deliveryLimit: target.deliveryLimit,
    maxBodyBytes: target.maxBodyBytes,
    name: target.name,
    logger: target.logger,
  }),
  sendControl: (target, message) => withRedisOnce(redisUrlOf(target), 'shoal end-client', (redis) => publishControl(redis, target.topology.namespace, message)),
  createConsumer: (target) => new BullmqConsumer({
    workerId: target.workerId,
    namespace: target.topology.namespace,
    redisUrl: redisUrlOf(target),
    concurrency: target.concurrency,
    settings: target.bullmq ?? DEFAULT_BULLMQ_WORKER,
    logger: target.logger,
  }),
  connectDispatcherLink: (target) => BullmqDispatcherLink.connect({ redisUrl: redisUrlOf(target), namespace: target.topology.namespace, logger: target.logger, onQuit: target.onQuit }),
};
