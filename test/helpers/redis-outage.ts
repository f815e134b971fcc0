import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'vitest';
import type { RpcCaller } from '../../infra/transport/types.js';
import { loadWithFaults, printAccounting, type Accounting } from './chaos.js';
import { startRedis, stopRedis, type RedisServer } from './redis.js';

/** The dispatcher's JSON log lines that decided a new pool size. */
export function sizeDecisions(log: string): { time: number; from: number; to: number }[] {
  return log.split('\n').flatMap((line) => {
    try {
      const entry = JSON.parse(line) as { time?: number; from?: unknown; to?: unknown };
      return typeof entry.from === 'number' && typeof entry.to === 'number' ? [{ time: entry.time!, from: entry.from, to: entry.to }] : [];
    } catch {
      return [];
    }
  });
}

export interface HeldOutage {
  account: Accounting;
  /** The pool's size when Redis stopped, and the smallest it was seen at until it was back. */
  sizeAtStop: number;
  smallestDuringOutage: number;
  outage: { from: number; to: number };
}

/**
 * A BullMQ pool under load (150 req/s of 50 ms jobs: one worker is too few,
 * so it grows) loses its Redis for `outageMs` once it has grown: Redis holds
 * both its queue and its worker reports. Watches the pool's size meanwhile.
 */
export async function redisOutageUnderLoad(client: RpcCaller, server: RedisServer, poolSize: () => Promise<number>, outageMs: number): Promise<HeldOutage> {
  let sizeAtStop = 0;
  let smallest = Infinity;
  const outage = { from: 0, to: 0 };
  // Fired at request 900 (6 s in), when the pool has had time to grow.
  const account = await loadWithFaults(client, { count: 2400, ratePerSec: 150, job: 'sleep', payload: { ms: 50 }, timeoutMs: 60_000 }, [900], async () => {
    sizeAtStop = await poolSize();
    outage.from = Date.now();
    await stopRedis(server, 'shutdown');
    while (Date.now() - outage.from < outageMs) {
      smallest = Math.min(smallest, await poolSize());
      await sleep(250);
    }
    await startRedis(server);
    outage.to = Date.now();
  });
  printAccounting(`bullmq Redis outage (${outageMs / 1000} s)`, account);
  console.log(`bullmq Redis outage: pool size ${sizeAtStop} when Redis stopped, smallest during the outage ${smallest}`);
  expect(account).toMatchObject({ sent: 2400, answered: 2400, ok: 2400, lost: 0, faults: 1 });
  return { account, sizeAtStop, smallestDuringOutage: smallest, outage };
}

/**
 * The dispatcher held the pool through the outage and said so once; no
 * decision shrank it meanwhile. The floor is the smaller of the size seen at
 * the stop and the size last decided before it: a worker whose drain was
 * decided before Redis stopped may finish draining during the outage.
 */
export function expectHeldThrough(result: HeldOutage, log: string, min: number): void {
  const decisions = sizeDecisions(log);
  const decidedBefore = decisions.filter((d) => d.time < result.outage.from).at(-1)?.to ?? result.sizeAtStop;
  const floor = Math.min(result.sizeAtStop, decidedBefore);
  console.log(`bullmq Redis outage: size decided before the stop ${decidedBefore}, floor ${floor}`);
  console.log(`bullmq Redis outage: the dispatcher's decisions and warnings\n${notableLines(log, result.outage).join('\n')}`);
  expect(floor).toBeGreaterThan(min); // it had grown: there was something to lose
  expect(result.smallestDuringOutage).toBeGreaterThanOrEqual(floor);
  const shrunkDuring = decisions.filter((d) => d.to < d.from && d.time >= result.outage.from && d.time <= result.outage.to);
  expect(shrunkDuring).toEqual([]);
  expect(log.split('until the queue\'s figures are back').length - 1).toBe(1);
  expect(log).toContain('the queue\'s figures are back: scaling again');
}

/** Decisions and warnings from the dispatcher's log, stamped relative to the outage, for reading a failure. */
function notableLines(log: string, outage: { from: number; to: number }): string[] {
  return log.split('\n').flatMap((line) => {
    try {
      const entry = JSON.parse(line) as { time: number; level: number; msg: string; from?: number; to?: number };
      if (entry.level < 40 && typeof entry.from !== 'number') return [];
      const at = entry.time < outage.from ? `${entry.time - outage.from} ms` : entry.time <= outage.to ? `+${entry.time - outage.from} ms (down)` : `+${entry.time - outage.from} ms (back)`;
      return [`  ${at}: ${entry.msg}`];
    } catch {
      return [];
    }
  });
}
