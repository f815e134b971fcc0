import { describe, expect, it } from 'vitest';
import { QUEUE_LENGTH_TARGETS } from '../../dispatcher/simulator/compare.js';
import { OptionsError } from '../../dispatcher/simulator/options.js';
import { MAX_OVER_TARGET_PCT, scoreboardJobs } from '../../dispatcher/simulator/scoreboard.js';
import { parseScoreboardOptions } from '../../dispatcher/simulator/scoreboard-options.js';
import { runScoreboard } from '../../dispatcher/simulator/scoreboard-run.js';
import { spread } from '../../dispatcher/simulator/scoreboard-summary.js';
import { formatScoreboard, formatScoreboardSettings } from '../../dispatcher/simulator/scoreboard-table.js';

describe('scoreboard options', () => {
  it('default: 6 seeds at x1 and x10, 2 at x100, cv 0.5, 1 and 2, the three policies', () => {
    const { options, json } = parseScoreboardOptions({});
    expect(options.scales).toEqual([1, 10, 100]);
    expect(options.cvs).toEqual([0.5, 1, 2]);
    expect(options.seeds).toEqual([1, 2, 3, 4, 5, 6]);
    expect(options.largeScaleSeeds).toEqual([1, 2]);
    expect(options.policies).toEqual(['target-wait', 'queue-length', 'latency-threshold']);
    expect(options.durationMs).toBeUndefined();
    expect(json).toBe(false);
  });

  it('--quick is small, and explicit flags still win over it', () => {
    const quick = parseScoreboardOptions({ quick: true }).options;
    expect([quick.scales, quick.cvs, quick.seeds, quick.durationMs]).toEqual([[1], [1], [1, 2], 60_000]);
    const mine = parseScoreboardOptions({ quick: true, seeds: '3', firstSeed: '10', scales: '1,10' }).options;
    expect(mine.seeds).toEqual([10, 11, 12]);
    expect(mine.scales).toEqual([1, 10]);
  });

  it('shares the pool flags with shoal-simulate', () => {
    const { options } = parseScoreboardOptions({ targetWait: '300ms', spares: '2', max: '20' });
    expect(options.base.config?.targetWaitP95Ms).toBe(300);
    expect(options.base.config?.max).toBe(20);
    expect(options.base.spares).toBe(2);
  });

  it('names every bad flag', () => {
    expect(() => parseScoreboardOptions({ seeds: '0', cv: 'x', policy: 'nope', duration: '5s', min: '-1' })).toThrowError(OptionsError);
    try {
      parseScoreboardOptions({ seeds: '0', cv: 'x', policy: 'nope', duration: '5s', min: '-1' });
    } catch (err) {
      const text = (err as OptionsError).problems.join('\n');
      for (const flag of ['--seeds', '--cv', '--policy', '--duration', '--min']) expect(text).toContain(flag);
    }
  });
});

describe('scoreboard jobs', () => {
  it('puts the costliest first: x100 before x1, tuning before single runs', () => {
    const { options } = parseScoreboardOptions({ scales: '1,100', cv: '1', seeds: '2' });
    const jobs = scoreboardJobs(options);
    expect(jobs[0]).toEqual({ cell: 1, kind: 'tune-queue-length' });
    expect(jobs[jobs.length - 1]!.cell).toBe(0);
    // Per cell: one tuning job, and per seed the two oracles and each policy but the tuned one.
    expect(jobs).toHaveLength(2 * (1 + 2 * 4));
  });

  it('medians and worst cases', () => {
    expect(spread([3, 1, 2])).toEqual({ median: 2, worst: 3 });
    expect(spread([4, 1, 2, 3])).toEqual({ median: 2.5, worst: 4 });
    expect(Number.isNaN(spread([]).median)).toBe(true);
  });
});

describe('quick scoreboard', async () => {
  const { options } = parseScoreboardOptions({ quick: true });
  const cells = await runScoreboard(options, { threads: 1 });
  const [cell] = cells;

  it('scores each policy, the reactive and the feasible oracle and the lower bound on every seed', () => {
    expect(cells).toHaveLength(1);
    expect(cell!.policies.map((p) => p.policy)).toEqual(['target-wait', 'queue-length', 'latency-threshold', 'reactive oracle', 'oracle']);
    for (const p of cell!.policies) {
      expect(p.perSeed.map((s) => s.seed)).toEqual([1, 2]);
      expect(p.seedsMet).toBe(p.perSeed.filter((s) => s.overTargetPct <= MAX_OVER_TARGET_PCT).length);
      expect(p.timesLowerBound.worst).toBeGreaterThanOrEqual(p.timesLowerBound.median);
    }
    expect(cell!.lowerBound.perSeed.every((b) => b.workerSeconds > 0)).toBe(true);
  });

  it('tunes queue-length to one setting for the cell: the largest that met every seed', () => {
    const q = cell!.policies.find((p) => p.policy === 'queue-length')!;
    expect(QUEUE_LENGTH_TARGETS).toContain(q.queueLength!.chosen);
    if (q.queueLength!.met) expect(q.seedsMet).toBe(2);
    // Every larger target tried failed on some seed; every smaller one tried passed.
    for (const t of q.queueLength!.tried) {
      if (t.targetQueueLength > q.queueLength!.chosen) expect(t.overTargetPct).toBeGreaterThan(MAX_OVER_TARGET_PCT);
      if (t.targetQueueLength < q.queueLength!.chosen) expect(t.failedSeed).toBeUndefined();
    }
    expect(q.queueLength!.tried.length).toBeLessThanOrEqual(Math.ceil(Math.log2(QUEUE_LENGTH_TARGETS.length)) + 1);
  });

  it('prints a row per policy with the x-oracle figures, and the settings it ran with', () => {
    const table = formatScoreboard(cells);
    const lines = table.split('\n');
    expect(lines[0]).toMatch(/policy.*over target % med.*worker-s med.*x bound med.*seeds met/);
    for (const name of ['target-wait', 'queue-length', 'latency-threshold', 'oracle (feasible)', 'lower bound']) {
      const row = lines.find((line) => line.includes(name));
      expect(row, name).toBeDefined();
      if (name !== 'lower bound') expect(row).toMatch(/\d+\.\d\d\s+\d+\.\d\d\s+\d\/2/);
    }
    expect(formatScoreboardSettings(options)).toContain('seeds 2 (gen-1..gen-2), traces 60 s each');
  });
});
