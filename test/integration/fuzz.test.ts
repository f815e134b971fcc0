import { describe, expect, it } from 'vitest';
import { fuzzSeed, runFuzz } from '../helpers/fuzz.js';
import { usePool } from '../helpers/fixture.js';

/**
 * Throws a few hundred random messages (good, bad and ugly: bodies, reply
 * addresses, versions, delivery counts, sent-at and deadline headers, the
 * expiration and type properties) at one worker, straight onto the request
 * queue, and checks that the worker stays up and that every message ends
 * exactly once: answered ok, or dead-lettered (with an error reply when
 * someone could be answered), or run with its reply sent where nobody reads it.
 *
 * A new seed each run, printed and in the test's name; rerun a failure with
 * SHOAL_FUZZ_SEED=<seed>. `npm run bench -- fuzz` runs 10,000 inputs.
 */
const SEED = fuzzSeed();
const COUNT = 300;

describe('fuzzing the worker with raw messages', () => {
  const pool = usePool();

  it(`accounts for every one of ${COUNT} random messages exactly once, and keeps serving (seed ${SEED})`, async () => {
    console.log(`fuzz seed ${SEED} (replay with SHOAL_FUZZ_SEED=${SEED})`);
    const report = await runFuzz(pool.namespace, SEED, COUNT);
    expect(report.mismatches, `seed ${SEED}`).toEqual([]);
    expect(report.imbalances, `seed ${SEED}`).toEqual([]);
    expect(report.stillServing).toBe(true);
    // The fuzzing reached the paths it is meant to: some of each.
    expect(report.answeredOk).toBeGreaterThan(0);
    expect(report.ranUnanswered).toBeGreaterThan(0);
    expect(report.expired).toBeGreaterThan(0);
    expect(Object.keys(report.errorReplies).length).toBeGreaterThan(3);
  });
});
