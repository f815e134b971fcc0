import { Redis } from 'ioredis';
import { statusKey, type PoolStatus } from '../../infra/pool-status.js';
import { eventsKey, type LoggedEvent } from '../../infra/pool-events.js';
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

/** The dispatcher's event log in Redis, oldest first. */
export async function readEvents(namespace: string): Promise<LoggedEvent[]> {
  const redis = new Redis(REDIS_URL);
  try {
    return (await redis.lrange(eventsKey(namespace), 0, -1)).map((raw) => JSON.parse(raw) as LoggedEvent).reverse();
  } finally {
    redis.disconnect();
  }
}

/** Scale-down decisions taken less than windowMs after an increase decision (a promotion is one). */
export function scaleDownsInsideWindow(events: readonly LoggedEvent[], windowMs: number): LoggedEvent[] {
  // Increase decisions only, at their tick's time: the clock the window runs on. Every promotion
  // is part of one (a saturated spare's promotion raises the decision too); the 'promoted' event
  // itself is stamped when the pool carried it out, after the tick's sampling, so measuring the
  // window from it would flag the first legal scale-down.
  const increases = events.filter((e) => e.type === 'decision' && e.to > e.from).map((e) => e.at);
  return events.filter((e) => e.type === 'decision' && e.to < e.from && increases.some((at) => at <= e.at && e.at - at < windowMs));
}
