import { Redis } from 'ioredis';
import { errorMessage } from '../../errors.js';
import type { Logger } from '../../log.js';
import { decodeControl, encodeControl, type ControlMessage } from '../../protocol.js';
import { controlChannel, redisConnection } from './connection.js';

/**
 * Control messages over Redis pub/sub: at most once, to whoever is subscribed
 * right now, like RabbitMQ's exclusive control queues (which die with their
 * connection). Resolves with whether anyone was listening.
 */
export async function publishControl(redis: Redis, namespace: string, message: ControlMessage): Promise<{ routed: boolean }> {
  const receivers = await redis.publish(controlChannel(namespace), encodeControl(message));
  return { routed: receivers > 0 };
}

export interface ControlSubscription {
  close(): Promise<void>;
}

/**
 * Listens on the pool's control channel with a connection of its own (a
 * subscribed connection can do nothing else). ioredis subscribes again after
 * a reconnect. `accept` picks the messages meant for this listener.
 */
export async function subscribeControl(
  redisUrl: string,
  namespace: string,
  name: string,
  accept: (message: ControlMessage) => boolean,
  onMessage: (message: ControlMessage) => void,
  logger: Logger,
): Promise<ControlSubscription> {
  const subscriber = new Redis({ ...redisConnection(redisUrl, name), maxRetriesPerRequest: 1 });
  subscriber.on('error', (err: Error) => logger.debug({ err: err.message }, 'control subscriber error'));
  subscriber.on('message', (_channel: string, raw: string) => {
    try {
      const message = decodeControl(Buffer.from(raw));
      if (accept(message)) onMessage(message);
    } catch (err) {
      logger.warn({ err: errorMessage(err) }, 'ignored a bad control message');
    }
  });
  await subscriber.subscribe(controlChannel(namespace));
  return { close: async () => void (await subscriber.quit().catch(() => subscriber.disconnect())) };
}
