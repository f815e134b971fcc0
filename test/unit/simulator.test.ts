import { describe, expect, it } from 'vitest';
import { probabilityOfWaiting, waitQuantile } from '../../dispatcher/policy/erlang.js';
import { comparePolicies, type TraceComparison } from '../../dispatcher/simulator/compare.js';
import { parseCsvTrace } from '../../dispatcher/simulator/csv-trace.js';
import { parseCliOptions } from '../../dispatcher/simulator/options.js';
import { simulate } from '../../dispatcher/simulator/simulate.js';
import { BUILTIN_TRACES, builtinTrace, constantTrace, stepTrace } from '../../dispatcher/simulator/traces.js';

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

  describe('default comparison (scale 1, seed 1)', () => {
    const comparisons = comparePolicies(BUILTIN_TRACES.map(builtinTrace), ['target-wait', 'queue-length'], {});
    const byTrace = new Map<string, TraceComparison>(comparisons.map((c) => [c.trace, c]));
    const run = (trace: string, policy: string) => byTrace.get(trace)!.runs.find((r) => r.policy === policy)!;

    it.each(BUILTIN_TRACES)('target-wait meets the 200 ms p95 wait target on %s', (trace) => {
      expect(run(trace, 'target-wait').result.waitMs.p95).toBeLessThanOrEqual(200);
    });

    // Known gap, see the simulator report: with one warm spare the tuned KEDA-like
    // baseline recommends the minimum and lets spare promotion size the pool,
    // while target-wait's 30 s scale-down window holds its larger recommendations.
    // These fail today; when the policy beats the baseline they turn red: drop `.fails`.
    for (const trace of ['step', 'bursts', 'diurnal']) {
      it.fails(`target-wait uses fewer worker-seconds than the tuned queue-length baseline on ${trace}`, () => {
        expect(run(trace, 'target-wait').result.workerSeconds).toBeLessThan(run(trace, 'queue-length').result.workerSeconds);
      });
    }

    it('ties on sparse: both policies sit at the floor (min 1 + 1 spare)', () => {
      expect(run('sparse', 'target-wait').result.workerSeconds).toBe(run('sparse', 'queue-length').result.workerSeconds);
    });

    it('without spares, target-wait is cheaper than the tuned baseline on diurnal, where the policy alone sizes the pool', () => {
      const [diurnal] = comparePolicies([builtinTrace('diurnal')], ['target-wait', 'queue-length'], { spares: 0 });
      const [targetWait, queueLength] = diurnal!.runs;
      expect(targetWait!.meetsTarget && queueLength!.meetsTarget).toBe(true);
      expect(targetWait!.result.workerSeconds).toBeLessThan(queueLength!.result.workerSeconds);
    });
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
        '--trace must be step, bursts, diurnal, sparse, all, a comma-separated list of them, or csv:<path> (got "weekly")',
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
