import { describe, expect, it } from 'vitest';
import { callsToCheck, keysExist, lostAfterCheck, MISSES_BEFORE_LOST, type WatchedCall } from '../../infra/transport/bullmq/lost-jobs.js';

const call = (addedAt: number | undefined, misses = 0): WatchedCall => ({ addedAt, misses });

describe('finding jobs Redis no longer holds', () => {
  it('checks only calls whose job was added at least minAge ago (not those still being added)', () => {
    const calls = new Map([['old', call(1000)], ['fresh', call(2500)], ['adding', call(undefined)], ['edge', call(2000)]]);
    expect(callsToCheck(calls.entries(), 3000, 1000).map(([id]) => id)).toEqual(['old', 'edge']);
  });

  it(`a job counts as lost only after ${MISSES_BEFORE_LOST} checks in a row find it missing (it may have just completed)`, () => {
    const a = call(0);
    const b = call(0);
    const checked: [string, WatchedCall][] = [['a', a], ['b', b]];
    expect(lostAfterCheck(checked, [false, true])).toEqual([]);
    expect(lostAfterCheck(checked, [false, false]).map(([id]) => id)).toEqual(['a']);
    expect(b.misses).toBe(1);
    expect(lostAfterCheck(checked, [true, false]).map(([id]) => id)).toEqual(['b']);
    expect(a.misses).toBe(0); // found again: starts over
  });

  it('asks Redis in one pipeline; an error reply is not taken as a loss', async () => {
    const asked: string[] = [];
    const pipeline = {
      exists(key: string) {
        asked.push(key);
        return pipeline;
      },
      exec: async () => [[null, 1], [null, 0], [new Error('LOADING'), null]] as [Error | null, unknown][],
    };
    const redis = { pipeline: () => pipeline } as unknown as Parameters<typeof keysExist>[0];
    expect(await keysExist(redis, ['k1', 'k2', 'k3'])).toEqual([true, false, true]);
    expect(asked).toEqual(['k1', 'k2', 'k3']);
    expect(await keysExist(redis, [])).toEqual([]);
  });
});
