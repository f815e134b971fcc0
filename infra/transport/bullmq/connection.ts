import type { ConnectionOptions, QueueOptions } from 'bullmq';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis, type RedisOptions } from 'ioredis';
import { redactUrl } from '../../amqp/connection.js';
import { errorMessage, ShoalError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { redisClientName } from '../../redis.js';

/** BullMQ's queue of one pool: keys `<namespace>:bullmq:requests:*`, so a namespace's Redis keys stay under `<namespace>:`. */
export const QUEUE_NAME = 'requests';

export function queuePrefix(namespace: string): string {
  return `${namespace}:bullmq`;
}

/** The events stream is trimmed to about this many entries; a reader far behind would miss replies. */
export const EVENTS_MAX_LEN = 100_000;

/**
 * Options for every BullMQ Queue on a pool's queue. Each Queue writes its
 * events-stream limit into the queue's meta on start (BullMQ's default 10,000
 * when unset), and the workers trim to the last one written: one Queue opened
 * with other options would shrink the producer's limit for everyone.
 */
export function queueOptions(redisUrl: string, namespace: string, name: string): QueueOptions {
  return { connection: bullConnection(redisUrl, name), prefix: queuePrefix(namespace), streams: { events: { maxLen: EVENTS_MAX_LEN } } };
}

/**
 * Control messages of one pool travel on Redis pub/sub: quit on a channel
 * every worker and the dispatcher listen to, drain and promote on a channel of
 * the one worker they name, so PUBLISH's receiver count says whether it heard.
 */
export function quitChannel(namespace: string): string {
  return `${namespace}:control:quit`;
}

/** Where cancels go: every worker of the pool listens, since any one may hold the request. */
export function cancelChannel(namespace: string): string {
  return `${namespace}:control:cancel`;
}

export function workerControlChannel(namespace: string, workerId: string): string {
  return `${namespace}:control:worker:${workerId}`;
}

/**
 * ioredis options from a redis:// or rediss:// URL, as BullMQ wants them: its
 * blocking commands need `maxRetriesPerRequest: null` (wait through an outage
 * instead of failing). BullMQ opens its own connections from these.
 */
export function redisConnection(url: string, name: string): RedisOptions {
  const parsed = new URL(url);
  const db = parsed.pathname.replace(/^\//, '');
  return {
    host: parsed.hostname,
    port: parsed.port ? Number(parsed.port) : 6379,
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(db ? { db: Number(db) } : {}),
    ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
    connectionName: redisClientName(name),
    maxRetriesPerRequest: null,
    retryStrategy: (attempt: number) => Math.min(attempt * 200, 5000),
  };
}

/** The same, typed for BullMQ's constructors (its own RedisOptions type is a looser copy of ioredis'). */
export function bullConnection(url: string, name: string): ConnectionOptions {
  return redisConnection(url, name) as ConnectionOptions;
}

/** The error a command fails with when BullMQ's Redis does not answer. */
export function redisUnreachable(url: string, err: unknown): ShoalError {
  const reason = (err as Error).message.replace(/\.+$/, '');
  return new ShoalError('REDIS_UNREACHABLE', `cannot reach Redis at ${redactUrl(url)} for the bullmq transport (${reason}). Is it running? \`npm run setup\` starts it on this machine.`, { cause: err });
}

/**
 * Runs `use` on a short-lived client that gives up after a few tries, so that
 * a command started without Redis fails with a clear message instead of
 * waiting for it forever (BullMQ's own connections wait through outages).
 */
export async function withRedisOnce<T>(url: string, name: string, use: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis({ ...redisConnection(url, name), maxRetriesPerRequest: 1, retryStrategy: (n: number) => (n > 3 ? null : 200) });
  redis.on('error', () => undefined);
  try {
    return await use(redis);
  } catch (err) {
    throw redisUnreachable(url, err);
  } finally {
    redis.disconnect();
  }
}

/** How long a worker waits for Redis when it starts, about as long as amqplib's recovery waits for a broker. */
export const REDIS_STARTUP_WAIT_MS = 30_000;

/**
 * Waits until Redis answers, trying every second, as a RabbitMQ worker waits
 * for its broker: a worker started during a Redis outage (or just before one)
 * stays up and starts consuming when Redis is back, instead of exiting and
 * being replaced over and over. Says so once. Gives up with REDIS_UNREACHABLE
 * after `giveUpAfterMs` (a wrong URL is an error, not a wait forever). False if
 * `stopped` said stop first.
 */
export async function waitForRedis(url: string, name: string, logger: Logger, stopped: () => boolean, giveUpAfterMs = REDIS_STARTUP_WAIT_MS): Promise<boolean> {
  const giveUpAt = Date.now() + giveUpAfterMs;
  let warned = false;
  while (!stopped()) {
    try {
      await withRedisOnce(url, name, (redis) => redis.ping());
      if (warned) logger.info('Redis answers again: starting');
      return true;
    } catch (err) {
      if (Date.now() >= giveUpAt) throw err;
      if (!warned) logger.warn({ err: errorMessage(err), giveUpInMs: giveUpAfterMs }, 'cannot reach Redis yet; waiting for it');
      warned = true;
      await sleep(1000);
    }
  }
  return false;
}
