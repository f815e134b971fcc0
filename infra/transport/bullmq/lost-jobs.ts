import type { Redis } from 'ioredis';

/**
 * Finding requests that Redis no longer holds. A Redis that restarts without
 * persistence (or with a lossy one: appendfsync everysec, a wiped disk, a
 * failover to a replica that lagged) forgets jobs it had confirmed; their
 * callers would wait out their whole timeout. The RPC client checks now and
 * then whether the jobs of its older calls still exist (one EXISTS per job,
 * in one pipeline) and adds again those that are gone.
 *
 * A completed job is removed at once (removeOnComplete), so a job can also be
 * missing because it has just completed and its event is still on its way to
 * the client's events reader. A job counts as lost only when two checks in a
 * row, one interval apart, find it missing while its call still waits.
 */
export interface WatchedCall {
  /** When its job was last added (confirmed by Redis); undefined while the add is under way. */
  addedAt: number | undefined;
  /** Checks in a row that found its job missing. */
  misses: number;
}

/** Checks in a row that must find a job missing before it is added again. */
export const MISSES_BEFORE_LOST = 2;

/** The calls worth checking: added, and long enough ago that a short job would have answered. */
export function callsToCheck<C extends WatchedCall>(calls: Iterable<[string, C]>, now: number, minAgeMs: number): [string, C][] {
  const due: [string, C][] = [];
  for (const entry of calls) {
    const { addedAt } = entry[1];
    if (addedAt !== undefined && now - addedAt >= minAgeMs) due.push(entry);
  }
  return due;
}

/**
 * Counts this check's findings into each call and returns those now lost
 * (missing MISSES_BEFORE_LOST checks in a row). A job found again clears its misses.
 */
export function lostAfterCheck<C extends WatchedCall>(checked: readonly [string, C][], exists: readonly boolean[]): [string, C][] {
  const lost: [string, C][] = [];
  checked.forEach((entry, i) => {
    const call = entry[1];
    call.misses = exists[i] ? 0 : call.misses + 1;
    if (call.misses >= MISSES_BEFORE_LOST) lost.push(entry);
  });
  return lost;
}

/** Whether each key exists, in one round trip. */
export async function keysExist(redis: Pick<Redis, 'pipeline'>, keys: readonly string[]): Promise<boolean[]> {
  if (keys.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const key of keys) pipeline.exists(key);
  const results = (await pipeline.exec()) ?? [];
  return keys.map((_, i) => {
    const [err, count] = results[i] ?? [new Error('no result'), 0];
    // An error is no proof of loss: count the job as present.
    return err ? true : Number(count) > 0;
  });
}
