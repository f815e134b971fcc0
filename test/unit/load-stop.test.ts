import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { Reply } from '../../infra/protocol.js';
import { runLoad, type Caller, type LoadPlan } from '../../producer/load.js';

const plan = (count: number, concurrency: number): LoadPlan => ({ count, concurrency, ratePerSec: undefined, job: 'echo', payload: null, timeoutMs: 60_000 });
const ok: Reply = { ok: true, result: null, workerId: 'w', timings: { queuedMs: 0, serviceMs: 0 } };

/** A caller whose calls each take `latencyMs(index)`; counts the calls made. */
function fakeCaller(latencyMs: (index: number) => number): Caller & { made: number } {
  const caller = {
    made: 0,
    async call(): Promise<Reply> {
      const index = caller.made++;
      await sleep(latencyMs(index));
      return ok;
    },
  };
  return caller;
}

/** Stopping a load run (the producer's Ctrl-C): no new calls, a grace for the ones in flight, then the summary so far. */
describe('runLoad with a stop signal', () => {
  it('sends nothing more once stopped, and counts the calls that land within the grace', async () => {
    const caller = fakeCaller(() => 20);
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 100);
    const summary = await runLoad(caller, plan(1_000_000, 4), undefined, { signal: stop.signal, graceMs: 5_000 });
    expect(caller.made).toBeLessThan(100);
    // Every call made was in flight when it stopped or before, and landed within the grace.
    expect(summary).toMatchObject({ sent: caller.made, ok: caller.made });
  });

  it('summarizes at the end of the grace, leaving out the calls still in flight', async () => {
    // The first 2 calls are quick; the next 2 take far longer than the grace.
    const caller = fakeCaller((i) => (i < 2 ? 5 : 60_000));
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 50);
    const started = performance.now();
    const summary = await runLoad(caller, plan(100, 2), undefined, { signal: stop.signal, graceMs: 200 });
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(caller.made).toBe(4);
    expect(summary).toMatchObject({ sent: 2, ok: 2 });
  });

  it('runs to the end as before when never stopped', async () => {
    const caller = fakeCaller(() => 1);
    const summary = await runLoad(caller, plan(50, 8), undefined, { signal: new AbortController().signal, graceMs: 10 });
    expect(summary).toMatchObject({ sent: 50, ok: 50 });
  });
});
