import { once } from 'node:events';
import { Redis } from 'ioredis';
import { url } from './config.js';
import type { Logger } from './log.js';

export const redisSettings = {
  redisUrl: {
    env: 'SHOAL_REDIS_URL',
    flag: '--redis-url',
    help: 'Redis for worker reports, pool status and events (and the BullMQ queue), or "off"',
    // "off" runs without Redis: workers then send no reports.
    schema: url({ default: 'redis://127.0.0.1:6379', protocols: ['redis', 'rediss'], orLiteral: 'off' }),
  },
};

/** The client the adapters hand out; product code names it by this type and does not import ioredis itself. */
export type RedisClient = Redis;

/** A name Redis takes for CLIENT SETNAME, which refuses spaces (ioredis ignores the refusal, leaving the connection unnamed). */
export function redisClientName(name: string): string {
  return name.replace(/\s+/g, '-');
}

/**
 * A Redis client for side data (worker reports). Commands fail fast while Redis
 * is down instead of queueing, so a Redis outage never stalls request work;
 * the client keeps reconnecting in the background. Logs one warning per outage.
 */
export function createRedis(redisUrl: string, name: string, logger: Logger): Redis {
  const redis = new Redis(redisUrl, {
    connectionName: redisClientName(name),
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    // A Redis that hangs without dropping the connection must not hang a report or an exit.
    commandTimeout: 1000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 5000),
  });
  let down = false;
  redis.on('error', (err: Error) => {
    if (!down) logger.warn({ err: err.message }, 'Redis unavailable; carrying on without it');
    down = true;
  });
  redis.on('ready', () => {
    if (down) logger.info('Redis is back');
    down = false;
  });
  return redis;
}

/**
 * For a command that reads once and exits (shoal-status, the producer's report):
 * connects (rejecting when Redis cannot be reached), runs `read`, disconnects.
 */
export async function readRedisOnce<T>(redisUrl: string, read: (redis: RedisClient) => Promise<T>, options: { commandTimeout?: number } = {}): Promise<T> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, ...options });
  try {
    await redis.connect();
    return await read(redis);
  } finally {
    redis.disconnect();
  }
}

/** Waits until the client is connected, at most `timeoutMs`; without Redis, carries on. */
export async function whenReady(redis: Redis, timeoutMs = 2000): Promise<boolean> {
  if (redis.status === 'ready') return true;
  return once(redis, 'ready', { signal: AbortSignal.timeout(timeoutMs) }).then(() => true, () => false);
}

export function workerReportKey(namespace: string, workerId: string): string {
  return `${namespace}:workers:${workerId}`;
}
