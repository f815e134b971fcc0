import { Redis } from 'ioredis';
import { statusKey, type PoolStatus } from '../../dispatcher/status-store.js';
import { REDIS_URL } from './broker.js';

/** Reads the dispatcher's status from Redis, as `shoal-status` does. */
export async function readStatus(namespace: string): Promise<PoolStatus | undefined> {
  const redis = new Redis(REDIS_URL);
  try {
    const raw = await redis.get(statusKey(namespace));
    return raw ? (JSON.parse(raw) as PoolStatus) : undefined;
  } finally {
    redis.disconnect();
  }
}

export function countMembers(status: PoolStatus | undefined) {
  const members = status?.members ?? [];
  return {
    regular: members.filter((m) => m.role === 'worker' && m.state !== 'draining').length,
    spares: members.filter((m) => m.role === 'spare' && m.state !== 'draining').length,
    draining: members.filter((m) => m.state === 'draining').length,
  };
}
