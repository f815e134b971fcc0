import { Command } from 'commander';
import { formatDuration } from '../../infra/config.js';
import { POLICY_NAMES } from '../policy/index.js';
import { comparisonConfig, PRESETS, simulationDefaults } from './defaults.js';
import { BUILTIN_TRACES } from './traces.js';

/**
 * The simulator commands' flags, one table per command (as the settings tables
 * of the other commands, without environment variables: these are one-off
 * runs). The defaults the help shows are the constants the parsers fall back
 * to (defaults.ts), never typed a second time.
 */
export interface Flag {
  /** What the value looks like, e.g. `<n>`; none for a switch. */
  value?: string;
  help: string;
  /** The default, as a person writes it. */
  default?: string | number;
  /** A default that is a behaviour rather than a value, e.g. "exponential". */
  otherwise?: string;
}

export type Flags = Record<string, Flag>;

/** The flag of a table key, as commander names its key: "maxStepUp" <-> "--max-step-up". */
export function flagName(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** Adds a table's flags to a command, the default in each help line. */
export function addFlags(command: Command, flags: Flags): Command {
  for (const [key, flag] of Object.entries(flags)) {
    const shown = flag.default !== undefined ? ` (default ${flag.default})` : flag.otherwise !== undefined ? ` (default: ${flag.otherwise})` : '';
    command.option(flag.value ? `${flagName(key)} ${flag.value}` : flagName(key), `${flag.help}${shown}`);
  }
  return command;
}

const { startDelay } = simulationDefaults;
const swarmStart = PRESETS.swarm.startDelay;

/** The pool's flags, shared by shoal-simulate and shoal-scoreboard: they mean the same in both. */
export const poolFlags = {
  targetWait: { value: '<duration>', help: 'p95 queue wait to stay under', default: formatDuration(comparisonConfig.targetWaitP95Ms) },
  serviceMs: { value: '<ms>', help: 'mean service time per request', default: simulationDefaults.service.meanMs },
  serviceCv: { value: '<cv>', help: 'lognormal service times with this coefficient of variation', otherwise: 'exponential' },
  concurrency: { value: '<n>', help: 'requests one worker runs at once', default: comparisonConfig.concurrency },
  min: { value: '<n>', help: 'fewest regular workers', default: comparisonConfig.min },
  max: { value: '<n>', help: 'most regular workers', default: comparisonConfig.max },
  spares: { value: '<n>', help: 'warm spare workers kept beside the pool', default: simulationDefaults.spares },
  startDelay: { value: '<duration>', help: 'time for a worker to start consuming', default: formatDuration(startDelay.meanMs) },
  startJitter: { value: '<duration>', help: 'start delay is uniform in delay ± jitter', default: formatDuration(startDelay.jitterMs) },
  scale: { value: '<factor>', help: 'multiply every rate of the trace', default: 1 },
  preset: {
    value: '<name>',
    help: `local (containers on one host, the default) or swarm (tasks on a cluster: start delay ${formatDuration(swarmStart.meanMs)} ± ${formatDuration(swarmStart.jitterMs)})`,
  },
  maxStepUp: { value: '<n>', help: 'workers added per decision at most, or the current count if larger', default: comparisonConfig.maxStepUp },
  maxStepDown: {
    value: '<n>',
    help: 'workers that may go in one decision however small the pool',
    default: `${comparisonConfig.maxStepDown}; at most half the pool goes at once`,
  },
  scaleInterval: { value: '<duration>', help: 'how often the policy decides', default: formatDuration(simulationDefaults.controlIntervalMs) },
  burstMemory: {
    value: '<duration>',
    help: 'adaptive spares: warm headroom for the largest surge seen within this long',
    default: comparisonConfig.burstMemoryMs === 0 ? '0s: off' : formatDuration(comparisonConfig.burstMemoryMs),
  },
  metricsInterval: {
    value: '<duration>',
    help: 'how often its inputs are refreshed; between refreshes it sees the last sample',
    ...(simulationDefaults.metricsIntervalMs === 0 ? { otherwise: 'every decision' } : { default: formatDuration(simulationDefaults.metricsIntervalMs) }),
  },
  seed: { value: '<n>', help: 'random seed; the same seed gives the same result', default: simulationDefaults.seed },
} satisfies Flags;

export const simulateFlags = {
  trace: { value: '<name>', help: `${BUILTIN_TRACES.join(', ')}, gen:<seed> (a generated trace), all, a comma-separated list, or csv:<path>`, default: 'all' },
  policy: { value: '<name>', help: `${POLICY_NAMES.join(', ')}, all, or a comma-separated list`, default: 'all' },
  ...poolFlags,
  timeline: { help: 'print arrivals, workers and p95 wait per 5 s bucket' },
  tunePerTrace: { help: 'tune the queue-length baseline for each trace on its own (hindsight) instead of one setting for all traces' },
  oracle: { help: 'add the feasible oracle (knows the trace, starts workers ahead of need) as a row of every table' },
  json: { help: 'print the results as JSON on stdout' },
} satisfies Flags;

/** shoal-simulate's command line: parse it, then hand its opts() to parseCliOptions. */
export function simulateCommand(): Command {
  return addFlags(
    new Command('shoal-simulate').description('Compare scaling policies on load traces in a discrete-event simulation of a shoal pool.'),
    simulateFlags,
  )
    .showHelpAfterError()
    // Commander has printed its message; the exit code is ours (2 for bad input).
    .exitOverride();
}
