import type { PolicyName } from '../policy/index.js';
import { QUEUE_LENGTH_TARGETS, type BaseOptions } from './compare.js';
import { comparisonConfig } from './defaults.js';
import { generateTrace } from './generator.js';
import { hindsightLowerBound, runOracle } from './oracle.js';
import { simulate, type SimulationResult } from './simulate.js';

/**
 * The scoreboard: every policy on many generated traces (generator.ts), at
 * several scales and service-time variabilities, against the hindsight lower
 * bound and the feasible oracle (oracle.ts). Pure: the work is cut into jobs
 * that can run anywhere (one thread or several) and are assembled afterwards.
 */

/** A request "passes" when it waits at most the target; a run passes when at most this share fails. */
export const MAX_OVER_TARGET_PCT = 1;

export const SCOREBOARD_POLICIES = ['target-wait', 'queue-length', 'latency-threshold'] as const satisfies readonly PolicyName[];

export interface ScoreboardOptions {
  scales: number[];
  cvs: number[];
  /** Seeds for scales below 100... */
  seeds: number[];
  /** ...and for 100 and above, where one run costs 100 times as much. */
  largeScaleSeeds: number[];
  policies: PolicyName[];
  /** Fixed trace length (ms); by default each seed draws its own (generator.ts). */
  durationMs?: number;
  /**
   * The wait quantile the lower bound and the oracle size to the target: 0.95
   * (the target is a p95), or 0.99 to match the pass mark of 99 % under target.
   */
  boundQuantile?: number;
  /** Everything else of the simulation; config.max is multiplied by the scale. */
  base: BaseOptions;
}

/** One (scale, cv) combination and the seeds played in it. */
export interface Cell {
  scale: number;
  cv: number;
  seeds: number[];
}

export type Job =
  | { cell: number; kind: 'policy'; policy: PolicyName; seed: number }
  | { cell: number; kind: 'oracle'; seed: number }
  /** The oracle without look-ahead: knows each moment's need as it comes, and still waits out the start delay. */
  | { cell: number; kind: 'reactive-oracle'; seed: number }
  | { cell: number; kind: 'tune-queue-length' };

export interface SeedScore {
  seed: number;
  requests: number;
  overTargetPct: number;
  waitP95Ms: number;
  workerSeconds: number;
  /** The hindsight lower bound of worker-seconds for this seed's trace. */
  lowerBound: number;
}

export interface QueueLengthChoice {
  /** The largest targetQueueLength that passed on every seed of the cell, or the smallest tried if none did. */
  chosen: number;
  met: boolean;
  /** Targets tried, in the order of the search, with the first seed that failed each (none for one that passed). */
  tried: { targetQueueLength: number; failedSeed?: number; overTargetPct?: number }[];
}

export interface JobResult {
  job: Job;
  scores: SeedScore[];
  queueLength?: QueueLengthChoice;
}

export function cellsOf(options: ScoreboardOptions): Cell[] {
  return options.scales.flatMap((scale) =>
    options.cvs.map((cv) => ({ scale, cv, seeds: scale >= 100 ? options.largeScaleSeeds : options.seeds })),
  );
}

/** Every job of the scoreboard, the costliest first, so that a pool of threads ends together. */
export function scoreboardJobs(options: ScoreboardOptions): Job[] {
  const cells = cellsOf(options);
  const jobs: Job[] = [];
  cells.forEach((cell, index) => {
    if (options.policies.includes('queue-length')) jobs.push({ cell: index, kind: 'tune-queue-length' });
    for (const seed of cell.seeds) {
      jobs.push({ cell: index, kind: 'oracle', seed }, { cell: index, kind: 'reactive-oracle', seed });
      for (const policy of options.policies) if (policy !== 'queue-length') jobs.push({ cell: index, kind: 'policy', policy, seed });
    }
  });
  const weight = (job: Job) => cells[job.cell]!.scale * (job.kind === 'tune-queue-length' ? cells[job.cell]!.seeds.length + 3 : 1);
  return jobs.map((job, order) => ({ job, order })).sort((a, b) => weight(b.job) - weight(a.job) || a.order - b.order).map((x) => x.job);
}

/** The simulation options of one cell: its service-time cv, and a ceiling of workers that grows with the scale. */
export function cellBase(options: ScoreboardOptions, cell: Cell): BaseOptions {
  const base = options.base;
  const max = (base.config?.max ?? comparisonConfig.max) * cell.scale;
  return { ...base, service: { meanMs: base.service?.meanMs ?? 50, cv: cell.cv }, config: { ...base.config, max } };
}

export function runJob(options: ScoreboardOptions, job: Job): JobResult {
  const cell = cellsOf(options)[job.cell]!;
  const base = cellBase(options, cell);
  // Each seed draws its own trace, and its own arrivals and service times (simulate's seed).
  const traceOf = (seed: number) => generateTrace(seed, { scale: cell.scale, durationMs: options.durationMs });
  const bound = (seed: number) => hindsightLowerBound(traceOf(seed), { service: base.service, config: base.config, spares: base.spares, quantile: options.boundQuantile }).workerSeconds;
  switch (job.kind) {
    case 'oracle': {
      const { bound: b, result } = runOracle(traceOf(job.seed), { ...base, seed: job.seed }, options.boundQuantile);
      return { job, scores: [score(job.seed, result, b.workerSeconds)] };
    }
    case 'reactive-oracle': {
      const { bound: b, result } = runOracle(traceOf(job.seed), { ...base, seed: job.seed }, options.boundQuantile, 'reactive');
      return { job, scores: [score(job.seed, result, b.workerSeconds)] };
    }
    case 'policy': {
      const result = simulate({ ...base, seed: job.seed, trace: traceOf(job.seed), policyName: job.policy });
      return { job, scores: [score(job.seed, result, bound(job.seed))] };
    }
    case 'tune-queue-length':
      return tuneQueueLength(job, cell, (seed, targetQueueLength) =>
        score(seed, simulate({ ...base, seed, trace: traceOf(seed), policyName: 'queue-length', config: { ...base.config, targetQueueLength } }), bound(seed)),
      );
  }
}

/**
 * An operator's single setting for the cell: the largest targetQueueLength
 * under which every seed passes, found by binary search over
 * QUEUE_LENGTH_TARGETS. That assumes fewer messages per worker never makes
 * waiting worse (more workers for the same queue), and halves the runs: at
 * x100 each costs seconds. Within a target the seed that failed last is
 * played first, so a failing target usually costs one run. If no target
 * passes, the smallest is used and played on every seed.
 */
function tuneQueueLength(job: Job, cell: Cell, play: (seed: number, target: number) => SeedScore): JobResult {
  const targets = QUEUE_LENGTH_TARGETS;
  const order = [...cell.seeds];
  const tried: QueueLengthChoice['tried'] = [];
  const played = new Map<string, SeedScore>();
  const playOnce = (seed: number, target: number) => {
    const key = `${seed}:${target}`;
    if (!played.has(key)) played.set(key, play(seed, target));
    return played.get(key)!;
  };
  const passes = (target: number): boolean => {
    for (const seed of order) {
      const s = playOnce(seed, target);
      if (s.overTargetPct > MAX_OVER_TARGET_PCT) {
        tried.push({ targetQueueLength: target, failedSeed: seed, overTargetPct: s.overTargetPct });
        order.splice(order.indexOf(seed), 1);
        order.unshift(seed);
        return false;
      }
    }
    tried.push({ targetQueueLength: target });
    return true;
  };

  let best = -1;
  let low = 0;
  let high = targets.length - 1;
  while (low <= high) {
    const mid = (low + high + 1) >> 1;
    if (passes(targets[mid]!)) {
      best = mid;
      low = mid + 1;
    } else {
      high = mid - 1;
    }
  }
  const chosen = targets[Math.max(best, 0)]!;
  const scores = cell.seeds.map((seed) => playOnce(seed, chosen));
  return { job, scores, queueLength: { chosen, met: best >= 0, tried } };
}

function score(seed: number, result: SimulationResult, lowerBound: number): SeedScore {
  return {
    seed,
    requests: result.count,
    overTargetPct: result.overTargetPct,
    waitP95Ms: result.waitMs.p95,
    workerSeconds: result.workerSeconds,
    lowerBound,
  };
}
