import { describe, expect, it } from 'vitest';
import { probabilityOfWaiting, waitQuantile } from '../../dispatcher/policy/erlang.js';
import { Stabilizer } from '../../dispatcher/control/stabilizer.js';
import { defaultPolicyConfig, policies, type Observation, type Policy, type PolicyConfig, type PoolView } from '../../dispatcher/policy/index.js';

const config: PolicyConfig = { ...defaultPolicyConfig, min: 1, max: 20, concurrency: 4, targetWaitP95Ms: 200, maxStepUp: 4, maxStepDown: 1, scaleDownStabilizationMs: 30_000 };
const observe = (o: Partial<Observation>): Observation => ({ arrivalRate: 0, serviceMs: 50, backlog: 0, backlogGrowth: 0, inFlight: 0, waitP95Ms: undefined, ...o });
const pool = (active: number, starting = 0, spares = 0) => ({ active, starting, spares });
/** One decision of a fresh control step: the policy's sizing within bounds and step limits. */
const decideWith = (policy: Policy) => (o: Observation, p: PoolView, c: PolicyConfig = config) =>
  new Stabilizer(c).decide(policy(o, p, c, 0), p.active + p.starting, 0);

describe('Erlang C', () => {
  it('matches textbook values', () => {
    // 2 servers, offered load 1 Erlang: P(wait) = 1/3.
    expect(probabilityOfWaiting(2, 1, 1)).toBeCloseTo(1 / 3, 6);
    // 1 server is M/M/1: P(wait) = utilization.
    expect(probabilityOfWaiting(1, 0.7, 1)).toBeCloseTo(0.7, 6);
    expect(probabilityOfWaiting(3, 5, 1)).toBe(1);
  });

  it('gives the wait quantile of M/M/1 in closed form', () => {
    // P(W > t) = rho * exp(-(mu - lambda) t): the p95 is ln(rho / 0.05) / (mu - lambda).
    expect(waitQuantile(1, 0.8, 1, 0.95)).toBeCloseTo(Math.log(0.8 / 0.05) / 0.2, 6);
    expect(waitQuantile(10, 1, 1, 0.95)).toBe(0);
    expect(waitQuantile(2, 2, 1, 0.95)).toBe(Infinity);
  });
});

describe('target-wait policy', () => {
  const decide = decideWith(policies['target-wait']);
  it.each([
    // [what, observation, pool, desired]
    ['stays at min when idle', observe({}), pool(1), 1],
    ['grows for offered load: 180/s x 50 ms is 9 busy slots; 3 workers of 4 keep p95 under 200 ms', observe({ arrivalRate: 180 }), pool(1), 3],
    ['300/s x 50 ms is 15 busy slots: 4 workers (16 slots) still meet the target', observe({ arrivalRate: 300 }), pool(2), 4],
    ['330/s needs a fifth worker', observe({ arrivalRate: 330 }), pool(4), 5],
    ['limits a step up to +4', observe({ arrivalRate: 1000 }), pool(2), 6],
    ['counts starting workers as capacity on its way', observe({ arrivalRate: 180 }), pool(1, 2), 3],
    ['grows to clear a backlog within the 500 ms drain window: 400 waiting adds 800/s (+4 at most from 1)', observe({ arrivalRate: 0, backlog: 400 }), pool(1), 5],
    ['may double in one decision once the pool is larger than the step (HPA: 4 pods or 100%)', observe({ arrivalRate: 100_000 }), pool(8), 16],
    ['does not grow on a stale observed miss: the p95 of 10 s stays high long after a surge (it steps down: nothing holds it)', observe({ arrivalRate: 10, backlog: 5, backlogGrowth: 5, waitP95Ms: 1500 }), pool(3), 2],
    ['grows by one while work waits and no service time is known yet', observe({ serviceMs: undefined, backlog: 10 }), pool(2), 3],
    ['never goes over max', observe({ arrivalRate: 100_000 }), pool(15), 20],
    ['comes up to min', observe({}), pool(0), 1],
  ])('%s', (_what, observation, p, desired) => {
    expect(decide(observation, p).desired).toBe(desired);
  });

  it('counts consuming spares as servers: they take the overflow at once', () => {
    // 180/s x 50 ms = 9 busy slots: 3 workers alone, or 2 workers and a spare (12 slots either way).
    expect(decide(observe({ arrivalRate: 180 }), pool(3, 0, 1)).recommendation).toBe(2);
  });

  it('does not count a spare it promotes as a spare too: its replacement serves only once started', () => {
    // 180/s x 50 ms = 9 busy slots. Growing from 1, the spare becomes the second worker, so 2 workers
    // are 8 slots until the new spare starts: 3 now. Once it has, 2 and the spare do (12 slots).
    const decision = decide(observe({ arrivalRate: 180 }), pool(1, 0, 1));
    expect(decision.desired).toBe(3);
    expect(decision.recommendation).toBe(2);
  });

  it('sees a burst at once through the queue: every slot busy and the backlog growing', () => {
    // 2 workers (8 slots, 160/s) saturated and 400 more waiting each second: 560/s arrive, whatever the lagging rate says.
    const decision = decide(observe({ arrivalRate: 100, backlog: 200, backlogGrowth: 400 }), pool(2));
    expect(decision.reason).toContain('saturated: 560/s arriving');
    expect(decision.recommendation).toBe(8); // 560/s x 50 ms = 28 busy slots: 8 workers of 4
  });

  it('takes a few requests waiting a moment for noise, not overload', () => {
    expect(decide(observe({ arrivalRate: 100, backlog: 3, backlogGrowth: 12 }), pool(2)).reason).not.toContain('saturated');
  });

  it('remembers the steady-state need, not the backlog surge, for later scale-downs', () => {
    const decision = decide(observe({ arrivalRate: 100, backlog: 300, backlogGrowth: -100 }), pool(2));
    expect(decision.desired).toBeGreaterThan(decision.recommendation);
    expect(decision.recommendation).toBe(2); // 100/s x 50 ms = 5 busy slots: 2 workers of 4
    expect(decision.reason).toContain('(2 once the backlog is cleared)');
  });

  it('explains its decision with its inputs', () => {
    const { reason } = decide(observe({ arrivalRate: 180, waitP95Ms: 340, backlog: 100, backlogGrowth: 60 }), pool(2));
    expect(reason).toBe('2 -> 6: arrival 180/s, service 50 ms, backlog 100, in flight 0, p95 wait 340 ms; saturated: 220/s arriving; model needs 6 for p95 wait 36 ms <= 200 ms target (3 once the backlog is cleared)');
  });
});

describe('baselines', () => {
  it('latency-threshold adds one over the threshold, removes one well under it', () => {
    const decide = decideWith(policies['latency-threshold']);
    expect(decide(observe({ waitP95Ms: 300 }), pool(2)).desired).toBe(3);
    expect(decide(observe({ waitP95Ms: 300 }), pool(2, 1)).desired).toBe(3); // waits for the one starting
    expect(decide(observe({ waitP95Ms: 50 }), pool(3)).desired).toBe(2);
    expect(decide(observe({ waitP95Ms: 150 }), pool(3)).desired).toBe(3);
  });

  it('queue-length sizes by messages per worker, like KEDA QueueLength', () => {
    const decide = decideWith(policies['queue-length']);
    expect(decide(observe({ backlog: 30, inFlight: 8 }), pool(1), { ...config, targetQueueLength: 5, maxStepUp: 100 }).desired).toBe(8);
    expect(decide(observe({}), pool(1)).desired).toBe(1);
  });
});
