import { availableParallelism } from 'node:os';
import { Command } from 'commander';
import { POLICY_NAMES, type PolicyName } from '../policy/index.js';
import { parseDurationMs } from '../../infra/config.js';
import { addFlags, flagName, poolFlags, type Flags } from './flags.js';
import { DEFAULT_BOUND_QUANTILE } from './oracle.js';
import { OptionsError, parseCliOptions, type RawFlags } from './options.js';
import { SCOREBOARD_POLICIES, type ScoreboardOptions } from './scoreboard.js';

export interface ScoreboardCli {
  options: ScoreboardOptions;
  threads: number;
  json: boolean;
}

/** --quick: small enough for a test (about a second): x1, cv 1, 2 seeds of 60 s. Explicit flags still win. */
const QUICK = { scales: '1', cv: '1', seeds: '2', duration: '60s' };
const DEFAULTS = { scales: '1,10,100', cv: '0.5,1,2', seeds: '6', seedsX100: '2', firstSeed: '1' };
/** Threads when --threads is not given: two, or one on a one-core machine. */
const DEFAULT_THREADS = 2;

/** shoal-scoreboard's flags: its own, then the pool flags it shares with shoal-simulate. */
export const scoreboardFlags = {
  seeds: { value: '<n>', help: 'generated traces per (scale, cv)', default: DEFAULTS.seeds },
  seedsX100: { value: '<n>', help: 'of those, how many at scales of 100 and above, where a run costs 100x', default: DEFAULTS.seedsX100 },
  firstSeed: { value: '<n>', help: 'the traces are gen-<first-seed>, gen-<first-seed + 1>, ...', default: DEFAULTS.firstSeed },
  scales: { value: '<list>', help: 'rate multipliers, comma-separated', default: DEFAULTS.scales },
  cv: { value: '<list>', help: 'service-time coefficients of variation, lognormal, comma-separated', default: DEFAULTS.cv },
  policy: { value: '<names>', help: `${SCOREBOARD_POLICIES.join(', ')}, or all`, default: 'all' },
  duration: { value: '<duration>', help: 'fix every trace to this length', otherwise: '180-240 s, drawn from the seed' },
  boundQuantile: {
    value: '<q>',
    help: 'the wait quantile the lower bound and the oracle size to the target',
    default: `${DEFAULT_BOUND_QUANTILE}; 0.99 matches the 99 % pass mark`,
  },
  quick: { help: `a small run for tests: x${QUICK.scales}, cv ${QUICK.cv}, ${QUICK.seeds} seeds of ${QUICK.duration} (other flags still apply)` },
  threads: { value: '<n>', help: 'worker threads to spread the runs over', otherwise: `${DEFAULT_THREADS}, or 1 on a 1-core machine` },
  targetWait: poolFlags.targetWait,
  serviceMs: poolFlags.serviceMs,
  concurrency: poolFlags.concurrency,
  min: poolFlags.min,
  max: { ...poolFlags.max, help: 'most regular workers at x1; multiplied by the scale' },
  spares: poolFlags.spares,
  startDelay: poolFlags.startDelay,
  startJitter: poolFlags.startJitter,
  preset: poolFlags.preset,
  scaleInterval: poolFlags.scaleInterval,
  burstMemory: poolFlags.burstMemory,
  metricsInterval: poolFlags.metricsInterval,
  json: { help: 'print the results as JSON on stdout' },
} satisfies Flags;

/** shoal-scoreboard's command line: parse it, then hand its opts() to parseScoreboardOptions. */
export function scoreboardCommand(): Command {
  return addFlags(
    new Command('shoal-scoreboard').description(
      'Score the scaling policies on a family of generated traces, at several scales and service-time cvs, against an oracle.',
    ),
    scoreboardFlags,
  )
    .showHelpAfterError()
    // Commander has printed its message; the exit code is ours (2 for bad input).
    .exitOverride();
}

/** The scoreboard's flags, and the pool flags it shares with shoal-simulate (parsed by parseCliOptions). */
export function parseScoreboardOptions(flags: RawFlags): ScoreboardCli {
  const problems: string[] = [];
  const get = (key: string): string | undefined => (typeof flags[key] === 'string' ? (flags[key] as string) : undefined);
  const quick = flags.quick === true;
  const pick = (key: keyof typeof DEFAULTS | keyof typeof QUICK): string | undefined =>
    get(key) ?? (quick ? (QUICK as Record<string, string>)[key] : undefined) ?? (DEFAULTS as Record<string, string>)[key];

  const count = (key: 'seeds' | 'seedsX100' | 'firstSeed' | 'threads', min: number, max: number): number => {
    const raw = pick(key as keyof typeof DEFAULTS) ?? '';
    const flag = flagName(key);
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
      problems.push(`${flag} must be a whole number from ${min} to ${max} (got ${JSON.stringify(raw)})`);
      return min;
    }
    return n;
  };
  const list = (key: 'scales' | 'cv', min: number): number[] => {
    const raw = pick(key) ?? '';
    const flag = flagName(key);
    const values = raw.split(',').map((s) => Number(s.trim()));
    if (raw.trim() === '' || values.some((v) => !Number.isFinite(v) || v < min)) {
      problems.push(`${flag} must be a comma-separated list of numbers >= ${min} (got ${JSON.stringify(raw)})`);
      return [];
    }
    return values;
  };

  const scales = list('scales', 0.001);
  const cvs = list('cv', 0);
  const seedCount = count('seeds', 1, 1000);
  const largeSeedCount = count('seedsX100', 1, 1000);
  const firstSeed = count('firstSeed', 0, 2 ** 31);
  const threads = get('threads') === undefined ? Math.min(DEFAULT_THREADS, availableParallelism()) : count('threads', 1, 64);
  const policies = parsePolicies(get('policy'), problems);
  let durationMs: number | undefined;
  const rawDuration = pick('duration');
  if (rawDuration !== undefined) {
    durationMs = parseDurationMs(rawDuration);
    if (durationMs === undefined || durationMs < 20_000) problems.push(`--duration must be a duration of at least 20s, like 90s or 3m (got ${JSON.stringify(rawDuration)})`);
  }

  const rawQuantile = get('boundQuantile');
  const boundQuantile = rawQuantile === undefined ? undefined : Number(rawQuantile);
  if (boundQuantile !== undefined && !(boundQuantile > 0 && boundQuantile < 1)) problems.push(`--bound-quantile must be a number between 0 and 1, like 0.95 or 0.99 (got ${JSON.stringify(rawQuantile)})`);

  // The pool flags (target, min, max, spares, start delay, ...) mean what they mean in shoal-simulate.
  let base: ScoreboardOptions['base'] = {};
  try {
    base = parseCliOptions({ ...flags, trace: undefined, policy: undefined, scale: undefined, seed: undefined }).base;
  } catch (err) {
    if (err instanceof OptionsError) problems.push(...err.problems);
    else throw err;
  }
  if (problems.length > 0) throw new OptionsError(problems);

  const seeds = (n: number) => Array.from({ length: n }, (_, i) => firstSeed + i);
  return {
    options: {
      scales,
      cvs,
      seeds: seeds(seedCount),
      largeScaleSeeds: seeds(Math.min(largeSeedCount, seedCount)),
      policies,
      ...(durationMs === undefined ? {} : { durationMs }),
      ...(boundQuantile === undefined ? {} : { boundQuantile }),
      base,
    },
    threads,
    json: flags.json === true,
  };
}

function parsePolicies(value: string | undefined, problems: string[]): PolicyName[] {
  if (value === undefined || value === 'all') return [...SCOREBOARD_POLICIES];
  const names: PolicyName[] = [];
  for (const name of value.split(',').map((s) => s.trim())) {
    if ((POLICY_NAMES as readonly string[]).includes(name)) names.push(name as PolicyName);
    else problems.push(`--policy must be ${POLICY_NAMES.join(', ')}, all, or a comma-separated list of them (got ${JSON.stringify(name)})`);
  }
  return names;
}
