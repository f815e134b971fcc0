import { describe, expect, it } from 'vitest';
import { probabilityOfWaiting, waitQuantile } from '../../dispatcher/policy/erlang.js';
import { comparePolicies, type TraceComparison } from '../../dispatcher/simulator/compare.js';
import { parseCsvTrace } from '../../dispatcher/simulator/csv-trace.js';
import { parseCliOptions } from '../../dispatcher/simulator/options.js';
import { PoolModel } from '../../dispatcher/simulator/pool-model.js';
import { formatSettings } from '../../dispatcher/simulator/table.js';
import { simulate } from '../../dispatcher/simulator/simulate.js';
import { BUILTIN_TRACES, builtinTrace, constantTrace, scaleTrace, stepTrace } from '../../dispatcher/simulator/traces.js';

describe('simulator', () => {
  it('gives the same result for the same seed, and another for another seed', () => {
    const run = (seed: number) => simulate({ trace: stepTrace(), policyName: 'target-wait', seed });
    expect(run(7)).toEqual(run(7));
    expect(run(8).waitMs).not.toEqual(run(7).waitMs);
  });

  it('completes every request, about as many as the trace asks for, even past its end', () => {
    // Overloaded on purpose: 2 workers x 4 slots serve 160/s of the 200/s, so a backlog is left at the end.
    const trace = constantTrace(200, 30_000);
    const result = simulate({ trace, policyName: 'target-wait', config: { max: 2 }, spares: 0 });
    expect(result.completed).toBe(result.count);
    expect(result.count).toBeGreaterThan(200 * 30 * 0.95);
    expect(result.count).toBeLessThan(200 * 30 * 1.05);
    expect(result.endMs).toBeGreaterThan(trace.durationMs + 1000);
  });

  it('matches Erlang C for a fixed pool with Poisson arrivals and exponential service', () => {
    // 5 workers x 4 slots = 20 servers at 20/s each; 340/s is 85% utilization.
    const servers = 20;
    const lambda = 340;
    const mu = 1000 / 50;
    const checkpointMs = 20;
    for (const seed of [1, 2]) {
      const result = simulate({
        trace: constantTrace(lambda, 600_000),
        policyName: 'target-wait',
        // min = max pins the pool; the "target" only sets where overTargetPct measures the tail.
        config: { min: 5, max: 5, concurrency: 4, targetWaitP95Ms: checkpointMs },
        spares: 0,
        seed,
      });
      const p95 = waitQuantile(servers, lambda, mu, 0.95) * 1000;
      expect(Math.abs(result.waitMs.p95 - p95) / p95).toBeLessThan(0.15);
      // P(W > t) = P(wait) * exp(-(c*mu - lambda) t): the whole tail, not just one quantile.
      const tail = probabilityOfWaiting(servers, lambda, mu) * Math.exp(-(servers * mu - lambda) * (checkpointMs / 1000));
      expect(Math.abs(result.overTargetPct / 100 - tail)).toBeLessThan(0.03);
    }
  });

  describe('default comparison (scale 1, seed 1, one warm spare, as the dispatcher runs by default)', () => {
    // The KEDA-like baseline gets one setting, the largest that meets the target on every trace:
    // the choice an operator has to make without knowing the next day's load.
    const comparisons = comparePolicies(BUILTIN_TRACES.map(builtinTrace), ['target-wait', 'queue-length'], {});
    const byTrace = new Map<string, TraceComparison>(comparisons.map((c) => [c.trace, c]));
    const run = (trace: string, policy: string) => byTrace.get(trace)!.runs.find((r) => r.policy === policy)!;

    it.each(['step', 'diurnal', 'sparse'])('target-wait meets the 200 ms p95 wait target on %s', (trace) => {
      expect(run(trace, 'target-wait').result.waitMs.p95).toBeLessThanOrEqual(200);
    });

    it('on bursts, meets it only with adaptive spares: a 15x jump is faster than a 450 ms start', () => {
      expect(run('bursts', 'target-wait').result.waitMs.p95).toBeGreaterThan(200);
      const adaptive = simulate({ trace: builtinTrace('bursts'), policyName: 'target-wait', config: { burstMemoryMs: 60_000 } });
      expect(adaptive.waitMs.p95).toBeLessThanOrEqual(200);
      expect(adaptive.overTargetPct).toBeLessThan(1);
    });

    it.each(BUILTIN_TRACES)('the tuned queue-length baseline meets it too on %s', (trace) => {
      expect(run(trace, 'queue-length').meetsTarget).toBe(true);
    });

    it.each(['step', 'bursts', 'diurnal'])('target-wait uses fewer worker-seconds than the tuned baseline on %s', (trace) => {
      expect(run(trace, 'target-wait').result.workerSeconds).toBeLessThan(run(trace, 'queue-length').result.workerSeconds);
    });

    it('ties on sparse: both sit at the floor (min 1 + 1 spare)', () => {
      expect(run('sparse', 'target-wait').result.workerSeconds).toBe(run('sparse', 'queue-length').result.workerSeconds);
    });

    it('can also tune the baseline for each trace on its own', () => {
      const [step] = comparePolicies([builtinTrace('step')], ['queue-length'], {}, 'per-trace');
      expect(step!.runs[0]!.tuning).toMatchObject({ mode: 'per-trace', met: true });
    });
  });
});

describe('pool model', () => {
  it('fills the least busy regular worker, leaves spares the overflow, and drains the least busy', () => {
    const pool = new PoolModel(2);
    const [a, b, spare] = [pool.start('worker', 0), pool.start('worker', 0), pool.start('spare', 0)];
    for (const w of [a!, b!, spare!]) pool.ready(w, 0);
    const taken = [];
    for (let i = 0; i < 4; i++) {
      const w = pool.leastBusyRegular()!;
      pool.assign(w);
      taken.push(w.id);
    }
    expect(taken).toEqual([0, 1, 0, 1]);
    expect(pool.leastBusyRegular()).toBeUndefined();
    expect(pool.leastBusySpare()).toBe(spare);

    pool.release(b!, 1);
    const starting = pool.start('worker', 1);
    pool.retire(starting, 2); // cancelled at once: it holds nothing
    pool.retire(b!, 2); // 1 in flight: it drains
    expect(starting.state).toBe('removed');
    expect(pool.members().map((m) => [m.workerId, m.state])).toEqual([['w0', 'active'], ['w1', 'draining'], ['w2', 'active']]);
    expect(b!.state).toBe('draining');
    pool.release(b!, 3);
    expect(b!.state).toBe('removed');
  });

  it('like the dispatcher, promotes a saturated spare, never past max', () => {
    const result = simulate({ trace: stepTrace(), policyName: 'target-wait' });
    expect(result.completed).toBe(result.count);
    expect(result.waitMs.p95).toBeLessThanOrEqual(200);
    const pinned = simulate({ trace: stepTrace(), policyName: 'target-wait', config: { min: 2, max: 2 } });
    expect(pinned.promotions).toBe(0);
    expect(pinned.maxWorkers).toBe(2);
  });
});

describe('csv traces', () => {
  it('interpolates linearly and lasts until the last point', () => {
    const trace = parseCsvTrace('t_seconds,rate_per_second\n0,0\n10,100\n# a comment\n20,100\n', 'ramp.csv');
    expect(trace.durationMs).toBe(20_000);
    expect(trace.rate(5_000)).toBe(50);
    expect(trace.maxRate).toBe(100);
  });

  it.each([
    ['0,1\n5,abc\n', 'ramp.csv line 2: rate_per_second must be a number >= 0 (got "abc")'],
    ['0,1\n5,2\n5,3\n', 'ramp.csv line 3: t_seconds must increase (got 5 after 5)'],
    ['0,1,2\n', 'ramp.csv line 1: expected 2 columns "t_seconds,rate_per_second", got 3 ("0,1,2")'],
    ['t,rate\n', 'ramp.csv: no data lines; expected lines "t_seconds,rate_per_second"'],
  ])('rejects %j', (text, message) => {
    expect(() => parseCsvTrace(text, 'ramp.csv')).toThrow(message);
  });
});

describe('cli options', () => {
  it('reports every bad flag with its value', () => {
    expect(() => parseCliOptions({ min: '3', max: '2', trace: 'weekly', concurrency: '0' })).toThrow(
      [
        '--trace must be step, bursts, diurnal, sparse, gen:<seed>, all, a comma-separated list of them, or csv:<path> (got "weekly")',
        '--concurrency must be a whole number from 1 to 1000 (got "0")',
        '--max must be >= --min (got 2 < 3)',
      ].join('\n'),
    );
  });

  it('reads durations and picks lognormal service only with --service-cv', () => {
    const options = parseCliOptions({ targetWait: '0.5s', serviceCv: '1.5', startDelay: '2s' });
    expect(options.base.config?.targetWaitP95Ms).toBe(500);
    expect(options.base.service).toEqual({ meanMs: 50, cv: 1.5 });
    expect(options.base.startDelay).toEqual({ meanMs: 2000, jitterMs: 100 });
    expect(options.traces).toHaveLength(4);
  });
});

describe('cluster-scale options', () => {
  it('--preset swarm sets a slower start; explicit flags still win; bad values are named', () => {
    expect(parseCliOptions({ preset: 'swarm' }).base.startDelay).toEqual({ meanMs: 2000, jitterMs: 1000 });
    expect(parseCliOptions({ preset: 'swarm', startDelay: '3s' }).base.startDelay).toEqual({ meanMs: 3000, jitterMs: 1000 });
    expect(parseCliOptions({}).base.startDelay).toEqual({ meanMs: 450, jitterMs: 100 });
    const options = parseCliOptions({ scaleInterval: '2s', metricsInterval: '5s', maxStepUp: '20', maxStepDown: '10' });
    expect(options.base).toMatchObject({ controlIntervalMs: 2000, metricsIntervalMs: 5000, config: { maxStepUp: 20, maxStepDown: 10 } });
    expect(() => parseCliOptions({ preset: 'k8s', scaleInterval: '50ms', maxStepDown: '0' })).toThrow(
      ['--max-step-down must be a whole number from 1 to 10000 (got "0")', '--preset must be local or swarm (got "k8s")', '--scale-interval must be at least 100ms (got "50ms")'].join('\n'),
    );
  });

  it('prints the settings a table depends on', () => {
    expect(formatSettings(parseCliOptions({ preset: 'swarm', scale: '20', serviceMs: '200', max: '1000', metricsInterval: '5s', maxStepDown: '10' }))).toBe(
      'settings: rates x20, service 200 ms, 4 per worker, workers 1..1000 + 1 spare(s), steps +1000/-10, start delay 2000 ± 1000 ms, decisions every 250 ms, metrics every 5000 ms, seed 1',
    );
  });

  it('a metrics poll every decision changes nothing; a slower poll reacts later to a step', () => {
    const trace = stepTrace();
    const firstGrowth = (metricsIntervalMs: number) => {
      let at: number | undefined;
      const result = simulate({ trace, policyName: 'target-wait', spares: 0, metricsIntervalMs, onDecision: (now, _o, d) => (at ??= d.desired > 1 ? now : undefined) });
      return { at: at!, result };
    };
    const everyTick = firstGrowth(0);
    expect(firstGrowth(250).result).toEqual(everyTick.result);
    expect(firstGrowth(4000).at).toBeGreaterThan(everyTick.at); // polls at 0.25, 4.25, 8.25, 12.25 s: the 10 s step is seen at 12.25 s
  });

  it('holds the target at cluster scale on a smooth day: thousands of requests per second, hundreds of workers', () => {
    const result = simulate({
      trace: scaleTrace(builtinTrace('diurnal'), 20),
      policyName: 'target-wait',
      config: { max: 1000 },
      service: { meanMs: 200 },
      startDelay: { meanMs: 2000, jitterMs: 1000 },
    });
    expect(result.count).toBeGreaterThan(1_000_000);
    expect(result.maxWorkers).toBeGreaterThan(150);
    expect(result.waitMs.p95).toBeLessThan(result.config.targetWaitP95Ms);
  });
});

describe('start delay', () => {
  it('grows with the workers starting together, when the host is small (perConcurrentMs)', () => {
    const trace = constantTrace(400, 20_000);
    const alone = simulate({ trace, policyName: 'target-wait', spares: 0 });
    const crowded = simulate({ trace, policyName: 'target-wait', spares: 0, startDelay: { meanMs: 450, jitterMs: 100, perConcurrentMs: 1000 } });
    expect(crowded.overTargetPct).toBeGreaterThan(alone.overTargetPct);
    expect(crowded.completed).toBe(crowded.count);
  });
});
