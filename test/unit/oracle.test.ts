import { describe, expect, it } from 'vitest';
import type { Observation, PoolView } from '../../dispatcher/policy/index.js';
import { comparisonConfig } from '../../dispatcher/simulator/defaults.js';
import { comparePolicies } from '../../dispatcher/simulator/compare.js';
import { generateTrace } from '../../dispatcher/simulator/generator.js';
import { allenCunneenFactor, hindsightLowerBound, oracleLookaheadMs, oraclePolicy, runOracle } from '../../dispatcher/simulator/oracle.js';
import { parseCliOptions } from '../../dispatcher/simulator/options.js';
import { formatComparison } from '../../dispatcher/simulator/table.js';
import { constantTrace, scaleTrace, stepTrace } from '../../dispatcher/simulator/traces.js';

const idle: Observation = { arrivalRate: 0, serviceMs: 50, backlog: 0, backlogGrowth: 0, inFlight: 0, waitP95Ms: undefined };
const pool: PoolView = { active: 1, starting: 0, spares: 1 };

describe('hindsight lower bound', () => {
  it('on a constant trace is the Erlang C worker count times the duration', () => {
    // 300/s of 50 ms jobs is 15 Erlangs. 2 workers + 1 spare = 12 slots: unstable.
    // 3 + 1 = 16 slots: P(wait) = 0.730, p95 wait = ln(0.730 / 0.05) / (16 x 20 - 300) s = 134 ms <= 200 ms.
    const bound = hindsightLowerBound(constantTrace(300, 60_000), { service: { meanMs: 50 }, config: { min: 1, max: 50, concurrency: 4, targetWaitP95Ms: 200 }, spares: 1 });
    expect(bound.perSecond).toHaveLength(60);
    expect(bound.perSecond.every((s) => s.workers === 3 && Math.abs(s.rate - 300) < 1e-9)).toBe(true);
    expect(bound.workerSeconds).toBeCloseTo((3 + 1) * 60, 9);
  });

  it('scales the wait by Allen-Cunneen (1 + cv^2) / 2 for other service-time variabilities', () => {
    expect(allenCunneenFactor(1)).toBe(1);
    expect(allenCunneenFactor(2)).toBe(2.5);
    // 134 ms x 2.5 = 335 ms > 200 ms: cv 2 needs a 4th worker (20 slots: 11.7 ms x 2.5 = 29 ms).
    const bound = hindsightLowerBound(constantTrace(300, 60_000), { service: { meanMs: 50, cv: 2 }, spares: 1 });
    expect(bound.perSecond[0]!.workers).toBe(4);
    expect(bound.workerSeconds).toBeCloseTo(5 * 60, 9);
  });

  it('keeps min workers and the spares through silence, and counts a partial last second by its length', () => {
    const bound = hindsightLowerBound(constantTrace(0, 10_500), { config: { min: 2 }, spares: 1 });
    expect(bound.perSecond).toHaveLength(11);
    expect(bound.workerSeconds).toBeCloseTo(3 * 10.5, 9);
  });

  it('uses the mean rate of each second, so a step inside a second raises that second only', () => {
    const bound = hindsightLowerBound(stepTrace(), {});
    expect(bound.perSecond[9]!.rate).toBe(0);
    expect(bound.perSecond[10]!.rate).toBe(200);
    expect(bound.perSecond[70]!.rate).toBe(0);
    expect(bound.perSecond[10]!.workers).toBeGreaterThan(bound.perSecond[9]!.workers);
  });

  it('caps the need at config.max when no count meets the target', () => {
    const bound = hindsightLowerBound(constantTrace(10_000, 5_000), { config: { max: 10 } });
    expect(bound.perSecond.every((s) => s.workers === 10)).toBe(true);
  });
});

describe('feasible oracle', () => {
  it('asks at once for the most any second in the look-ahead needs, and lets go as soon as the need drops', () => {
    const need = [1, 1, 5, 2, 1, 1];
    const bound = { perSecond: need.map((workers) => ({ rate: 0, workers: 0, peakWorkers: workers })), spares: 1, config: comparisonConfig, workerSeconds: 0 };
    const policy = oraclePolicy(bound, 1500);
    const desiredAt = (now: number) => policy(idle, pool, comparisonConfig, now).workers;
    expect(desiredAt(0)).toBe(1); // seconds 0..1
    expect(desiredAt(600)).toBe(5); // seconds 0..2
    expect(desiredAt(2999)).toBe(5);
    expect(desiredAt(3000)).toBe(2); // seconds 3..4: no stabilization window
    expect(desiredAt(4000)).toBe(1);
    expect(desiredAt(60_000)).toBe(comparisonConfig.min); // past the trace
    // The spare was promoted and its replacement is starting: one more regular worker meanwhile.
    expect(policy(idle, { active: 1, starting: 0, spares: 0 }, comparisonConfig, 600).workers).toBe(6);
  });

  it('sizes each second at its peak sampled rate, the bound at its mean', () => {
    // A sharp burst of 2000/s from 10.5 s: second 10 averages 1000/s but peaks at 2000/s.
    const trace = { name: 'half', durationMs: 12_000, maxRate: 2000, rate: (t: number) => (t >= 10_500 ? 2000 : 0) };
    const second = hindsightLowerBound(trace).perSecond[10]!;
    expect(second.rate).toBe(1000);
    expect(second.peakWorkers).toBe(hindsightLowerBound(trace).perSecond[11]!.workers);
    expect(second.peakWorkers).toBeGreaterThan(second.workers);
  });

  it('looks ahead by the slowest start plus one control interval', () => {
    expect(oracleLookaheadMs({ startDelay: { meanMs: 450, jitterMs: 100 }, controlIntervalMs: 1000 })).toBe(1550);
    expect(oracleLookaheadMs({})).toBe(800) // the default 250 ms interval;
  });

  it('meets the target on the step trace, for little more than the lower bound', () => {
    const { bound, result } = runOracle(stepTrace());
    expect(result.completed).toBe(result.count);
    expect(result.waitMs.p95).toBeLessThanOrEqual(200);
    expect(result.overTargetPct).toBeLessThan(1);
    expect(result.workerSeconds).toBeGreaterThanOrEqual(bound.workerSeconds);
    expect(result.workerSeconds).toBeLessThan(bound.workerSeconds * 1.2);
  });

  it.each([1, 2, 3, 4])('costs at least the lower bound on gen-%i at x3', (seed) => {
    const trace = generateTrace(seed, { scale: 3, durationMs: 60_000 });
    const { bound, result } = runOracle(trace, { config: { max: 150 }, service: { meanMs: 50, cv: 1 } });
    expect(bound.workerSeconds).toBeGreaterThan(0);
    expect(bound.workerSeconds).toBeLessThanOrEqual(result.workerSeconds);
  });
});

describe('comparison tables', () => {
  it('carry the lower bound, an x oracle column, and on request the feasible oracle as a row', () => {
    const [step] = comparePolicies([stepTrace()], ['target-wait'], {}, 'all-traces', true);
    expect(step!.lowerBoundWorkerSeconds).toBeCloseTo(hindsightLowerBound(stepTrace()).workerSeconds, 9);
    expect(step!.runs.map((r) => r.policy)).toEqual(['target-wait', 'oracle']);
    const table = formatComparison(step!);
    expect(table).toContain('x oracle');
    expect(table).toMatch(/hindsight lower bound \d+ worker-s/);
    const oracleLine = table.split('\n').find((line) => line.startsWith('oracle'))!;
    const ratio = (oracleLine.match(/\s(\d+\.\d\d)\s/g) ?? []).map(Number);
    expect(ratio.length).toBeGreaterThan(0);
  });
});

describe('shoal-simulate flags', () => {
  it('takes generated traces beside the builtin ones, and --oracle adds the oracle row', () => {
    const options = parseCliOptions({ trace: 'step,gen:12,gen-3', oracle: true });
    expect(options.traces).toEqual([{ kind: 'builtin', name: 'step' }, { kind: 'generated', seed: 12 }, { kind: 'generated', seed: 3 }]);
    expect(options.oracle).toBe(true);
    expect(parseCliOptions({}).oracle).toBe(false);
    expect(() => parseCliOptions({ trace: 'gen:x' })).toThrow(/gen:<seed>/);
  });
});

describe('reactive oracle', () => {
  it('knows the present, not the future: on a cold step it misses what the feasible oracle meets, at no lower bound', () => {
    const trace = scaleTrace(stepTrace(), 10);
    const feasible = runOracle(trace, {}, undefined, 'feasible');
    const reactive = runOracle(trace, {}, undefined, 'reactive');
    expect(feasible.result.overTargetPct).toBeLessThanOrEqual(1);
    expect(reactive.result.overTargetPct).toBeGreaterThan(feasible.result.overTargetPct);
    expect(reactive.bound.workerSeconds).toBe(feasible.bound.workerSeconds);
  });
});
