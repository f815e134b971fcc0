import { Redis } from 'ioredis';
import { errorMessage } from '../../errors.js';
import type { Logger } from '../../log.js';
import { decodeControl, encodeControl, type ControlMessage } from '../../protocol.js';
import { cancelChannel, quitChannel, redisConnection, workerControlChannel } from './connection.js';

/**
 * Control messages over Redis pub/sub: at most once, to whoever is subscribed
 * right now, like RabbitMQ's exclusive control queues (which die with their
 * connection). Resolves with whether anyone was listening: quit goes to the
 * pool's quit channel, drain and promote to the named worker's own channel.
 */
export async function publishControl(redis: Redis, namespace: string, message: ControlMessage): Promise<{ routed: boolean }> {
  const channel = message.type === 'quit' ? quitChannel(namespace) : message.type === 'cancel' ? cancelChannel(namespace) : workerControlChannel(namespace, message.workerId);
  const receivers = await redis.publish(channel, encodeControl(message));
  return { routed: receivers > 0 };
}

export interface ControlSubscription {
  close(): Promise<void>;
}

/**
 * Listens on the pool's quit channel and, given a worker id, on that worker's
 * own channel, with a connection of its own (a subscribed connection can do
 * nothing else). ioredis subscribes again after a reconnect.
 */
export async function subscribeControl(
  redisUrl: string,
  namespace: string,
  name: string,
  workerId: string | undefined,
  onMessage: (message: ControlMessage) => void,
  logger: Logger,
): Promise<ControlSubscription> {
  const subscriber = new Redis({ ...redisConnection(redisUrl, name), maxRetriesPerRequest: 1 });
  subscriber.on('error', (err: Error) => logger.debug({ err: err.message }, 'control subscriber error'));
  subscriber.on('message', (_channel: string, raw: string) => {
    try {
      const message = decodeControl(Buffer.from(raw));
      onMessage(message);
    } catch (err) {
      logger.warn({ err: errorMessage(err) }, 'ignored a bad control message');
    }
  });
  const channels = workerId === undefined ? [quitChannel(namespace)] : [quitChannel(namespace), cancelChannel(namespace), workerControlChannel(namespace, workerId)];
  const close = async () => void (await subscriber.quit().catch(() => subscriber.disconnect()));
  await subscriber.subscribe(...channels).catch(async (err: unknown) => {
    await close();
    throw err;
  });
  return { close };
}
