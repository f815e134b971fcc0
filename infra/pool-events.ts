import { readRedisOnce, type RedisClient } from './redis.js';
import type { WorkerRole } from './runtime/types.js';

/**
 * The pool's event log: what the dispatcher writes to Redis and what the
 * producer's HTML report (and the benchmarks) read back. A contract between
 * them, so it lives below both: the producer knows nothing else of how the
 * pool is run.
 */

/** A change of one worker, as the dispatcher's pool emits it. */
export type PoolEvent =
  | { type: 'started' | 'adopted' | 'draining'; workerId: string; role: WorkerRole }
  /** `drain`: how the drain before the removal ended, and how long it took ('killed': at the grace). */
  | { type: 'removed'; workerId: string; role: WorkerRole; drain?: { exitCode: number | null; reason: string; ms: number } }
  /** `saturated`: the spare filled up on its own; otherwise the policy asked for more workers. */
  | { type: 'promoted'; workerId: string; role: WorkerRole; saturated: boolean }
  | { type: 'exited'; workerId: string; role: WorkerRole; exitCode: number | null; reason: string };

/** One line of the pool's event log: decisions and worker lifecycle, for charts and post-mortems. */
export type LoggedEvent = { at: number } & ({ type: 'decision'; from: number; to: number; reason: string } | PoolEvent);

/** The Redis list of a pool's events, newest first. */
export const eventsKey = (namespace: string) => `${namespace}:dispatcher:events`;

/** The pool's event log from Redis, oldest first; empty if it cannot be read. */
export async function readPoolEvents(redisUrl: string, namespace: string): Promise<LoggedEvent[]> {
  if (redisUrl === 'off') return [];
  const read = async (redis: RedisClient) =>
    (await redis.lrange(eventsKey(namespace), 0, -1)).map((line) => JSON.parse(line) as LoggedEvent).reverse();
  return readRedisOnce(redisUrl, read, { commandTimeout: 2000 }).catch(() => []);
}
