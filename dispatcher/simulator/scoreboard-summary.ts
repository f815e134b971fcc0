import type { RunLabel } from './compare.js';
import { MAX_OVER_TARGET_PCT, cellsOf, type JobResult, type QueueLengthChoice, type ScoreboardOptions, type SeedScore } from './scoreboard.js';

export interface Spread {
  median: number;
  /** The worst seed: the highest value (more waiting, more worker-seconds). */
  worst: number;
}

export interface PolicyScore {
  policy: RunLabel;
  overTargetPct: Spread;
  workerSeconds: Spread;
  /** Worker-seconds / the hindsight lower bound, per seed. */
  timesLowerBound: Spread;
  /** Seeds with at least 99 % of requests under the target. */
  seedsMet: number;
  seeds: number;
  queueLength?: QueueLengthChoice;
  perSeed: SeedScore[];
}

export interface CellScore {
  scale: number;
  cv: number;
  seeds: number[];
  policies: PolicyScore[];
  lowerBound: { workerSeconds: Spread; perSeed: { seed: number; workerSeconds: number }[] };
}

/** Puts the jobs' results back together: one CellScore per (scale, cv), policies in the order asked, then the oracle. */
export function assembleScoreboard(options: ScoreboardOptions, results: readonly JobResult[]): CellScore[] {
  return cellsOf(options).map((cell, index) => {
    const mine = results.filter((r) => r.job.cell === index);
    const policies: PolicyScore[] = options.policies.map((policy) => {
      if (policy === 'queue-length') {
        const tuned = mine.find((r) => r.job.kind === 'tune-queue-length');
        return summarize(policy, tuned?.scores ?? [], tuned?.queueLength);
      }
      return summarize(policy, mine.flatMap((r) => (r.job.kind === 'policy' && r.job.policy === policy ? r.scores : [])));
    });
    const oracle = mine.flatMap((r) => (r.job.kind === 'oracle' ? r.scores : []));
    policies.push(summarize('reactive oracle', mine.flatMap((r) => (r.job.kind === 'reactive-oracle' ? r.scores : []))));
    policies.push(summarize('oracle', oracle));
    const bounds = oracle.map((s) => ({ seed: s.seed, workerSeconds: s.lowerBound }));
    return {
      scale: cell.scale,
      cv: cell.cv,
      seeds: cell.seeds,
      policies,
      lowerBound: { workerSeconds: spread(bounds.map((b) => b.workerSeconds)), perSeed: bounds },
    };
  });
}

function summarize(policy: RunLabel, scores: SeedScore[], queueLength?: QueueLengthChoice): PolicyScore {
  const perSeed = [...scores].sort((a, b) => a.seed - b.seed);
  return {
    policy,
    overTargetPct: spread(perSeed.map((s) => s.overTargetPct)),
    workerSeconds: spread(perSeed.map((s) => s.workerSeconds)),
    timesLowerBound: spread(perSeed.map((s) => (s.lowerBound > 0 ? s.workerSeconds / s.lowerBound : Infinity))),
    seedsMet: perSeed.filter((s) => s.overTargetPct <= MAX_OVER_TARGET_PCT).length,
    seeds: perSeed.length,
    ...(queueLength ? { queueLength } : {}),
    perSeed,
  };
}

/** Median (the mean of the middle two for an even count) and maximum; NaN when empty. */
export function spread(values: readonly number[]): Spread {
  if (values.length === 0) return { median: NaN, worst: NaN };
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, worst: sorted[sorted.length - 1]! };
}
