import { describe, expect, it } from 'vitest';
import type { LoggedEvent } from '../../infra/pool-events.js';
import { stepTrace, compressTrace } from '../../dispatcher/simulator/traces.js';
import { simulate } from '../../dispatcher/simulator/simulate.js';
import { arrivalsOf } from '../bench/lib/arrivals.js';
import { accountPool } from '../bench/lib/pool-accounting.js';

/** The pure parts of test/bench/scaling.ts: what it sends, and how it counts the pool. */
describe('scaling benchmark accounting', () => {
  const at = (s: number) => 1_000_000 + s * 1000;

  it('counts worker-seconds within the run, spares and draining workers included', () => {
    const events: LoggedEvent[] = [
      { at: at(-5), type: 'started', workerId: 'w1', role: 'worker' },
      { at: at(-5), type: 'started', workerId: 's1', role: 'spare' },
      { at: at(2), type: 'decision', from: 1, to: 2, reason: 'up' },
      { at: at(2), type: 'promoted', workerId: 's1', role: 'worker', saturated: false },
      { at: at(2), type: 'started', workerId: 's2', role: 'spare' },
      { at: at(6), type: 'decision', from: 2, to: 1, reason: 'down' },
      { at: at(6), type: 'draining', workerId: 's1', role: 'worker' },
      { at: at(7), type: 'removed', workerId: 's1', role: 'worker' },
      { at: at(20), type: 'decision', from: 1, to: 3, reason: 'after the run' },
    ];
    // w1: 0..10 (10 s), s1: 0..7 (7 s), s2: 2..10 (8 s).
    expect(accountPool([...events].reverse(), at(0), at(10))).toEqual({ workerSeconds: 25, scaleEvents: 2, maxWorkers: 2 });
  });

  it('sends the arrivals the simulator simulates, for the same seed', () => {
    const trace = compressTrace(stepTrace(), 4);
    const arrivals = arrivalsOf(trace, 50, 7);
    expect(trace.durationMs).toBe(32_500);
    expect(arrivals.length).toBe(simulate({ trace, policyName: 'target-wait', seed: 7 }).count);
    expect(arrivals.every((a) => a.at >= 2_500 && a.at < 17_500 && Number.isInteger(a.serviceMs))).toBe(true);
    expect(arrivalsOf(trace, 50, 7)).toEqual(arrivals);
  });
});
