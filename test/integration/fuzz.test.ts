import { describe, expect, it } from 'vitest';
import { runFuzz } from '../helpers/fuzz.js';
import { runBullmqFuzz } from '../helpers/fuzz-bullmq.js';
import { describeReport, fuzzSeed } from '../helpers/fuzz-model.js';
import { usePool } from '../helpers/fixture.js';

/**
 * Throws a few hundred random requests (good, bad and ugly) at one worker,
 * straight onto its queue, and checks that the worker stays up and that every
 * one ends exactly once.
 *
 * RabbitMQ: raw messages (bodies, reply addresses, versions, delivery counts,
 * sent-at and deadline headers, the expiration and type properties), each
 * answered ok, dead-lettered (with an error reply when someone could be
 * answered), or run with its reply sent where nobody reads it.
 *
 * BullMQ: raw jobs added with the bullmq Queue API (random names, data and
 * options), each refused by BullMQ when added, completed with an ok reply, or
 * failed with an error reply and kept in the failed set.
 *
 * A new seed each run, printed and in the test's name; rerun a failure with
 * SHOAL_FUZZ_SEED=<seed>. `npm run bench -- fuzz` runs 10,000 inputs on each transport.
 */
const SEED = fuzzSeed();
const COUNT = 300;

describe('fuzzing the worker with raw messages (rabbitmq)', () => {
  const pool = usePool('rabbitmq');

  it(`accounts for every one of ${COUNT} random messages exactly once, and keeps serving (seed ${SEED})`, async () => {
    const report = await runFuzz(pool.namespace, SEED, COUNT);
    console.log(`${describeReport(report)}\n  replay with SHOAL_FUZZ_SEED=${SEED}`);
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

describe('fuzzing the worker with raw jobs (bullmq)', () => {
  const pool = usePool('bullmq');

  it(`accounts for every one of ${COUNT} random jobs exactly once, and keeps serving (seed ${SEED})`, async () => {
    const report = await runBullmqFuzz(pool.namespace, SEED, COUNT);
    console.log(`${describeReport(report)}\n  replay with SHOAL_FUZZ_SEED=${SEED}`);
    expect(report.mismatches, `seed ${SEED}`).toEqual([]);
    expect(report.imbalances, `seed ${SEED}`).toEqual([]);
    expect(report.stillServing).toBe(true);
    expect(report.answeredOk).toBeGreaterThan(0);
    expect(report.refusedAtAdd).toBeGreaterThan(0);
    expect(report.expired).toBeGreaterThan(0);
    expect(Object.keys(report.errorReplies).length).toBeGreaterThan(3);
  });
});
