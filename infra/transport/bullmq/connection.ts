import type { ConnectionOptions } from 'bullmq';
import type { RedisOptions } from 'ioredis';

/** BullMQ's queue of one pool: keys `<namespace>:bullmq:requests:*`, so a namespace's Redis keys stay under `<namespace>:`. */
export const QUEUE_NAME = 'requests';

export function queuePrefix(namespace: string): string {
  return `${namespace}:bullmq`;
}

/** Control messages (quit, drain, promote) of one pool travel on this Redis pub/sub channel. */
export function controlChannel(namespace: string): string {
  return `${namespace}:control`;
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
    connectionName: name,
    maxRetriesPerRequest: null,
    retryStrategy: (attempt: number) => Math.min(attempt * 200, 5000),
  };
}

/** The same, typed for BullMQ's constructors (its own RedisOptions type is a looser copy of ioredis'). */
export function bullConnection(url: string, name: string): ConnectionOptions {
  return redisConnection(url, name) as ConnectionOptions;
}
