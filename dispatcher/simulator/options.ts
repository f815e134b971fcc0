import { parseDurationMs } from '../../infra/config.js';
import { POLICY_NAMES, type PolicyName } from '../policy/index.js';
import type { BaseOptions, Tuning } from './compare.js';
import { comparisonConfig, PRESETS, simulationDefaults, type PresetName } from './defaults.js';
import { flagName, type simulateFlags } from './flags.js';
import { BUILTIN_TRACES, type BuiltinTraceName } from './traces.js';

/** Bad command-line input; every problem is listed, each naming the flag and the value. */
export class OptionsError extends Error {
  override readonly name = 'OptionsError';
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
  }
}

export type TraceSpec = { kind: 'builtin'; name: BuiltinTraceName } | { kind: 'csv'; path: string } | { kind: 'generated'; seed: number };

export interface CliOptions {
  traces: TraceSpec[];
  policies: PolicyName[];
  scale: number;
  base: BaseOptions;
  timeline: boolean;
  json: boolean;
  tuning: Tuning;
  /** Add the feasible oracle's run (oracle.ts) as a row of every table. */
  oracle: boolean;
}

/** What commander hands over: strings for valued flags, booleans for switches. */
export type RawFlags = Record<string, string | boolean | undefined>;
type SimulateFlag = keyof typeof simulateFlags;

/** Turns the CLI's flags into simulation options, or throws OptionsError naming each bad flag. */
export function parseCliOptions(flags: RawFlags): CliOptions {
  const problems: string[] = [];
  const get = (key: SimulateFlag): string | undefined => (typeof flags[key] === 'string' ? (flags[key] as string) : undefined);

  const wholeNumber = (key: SimulateFlag, fallback: number, min: number, max: number): number => {
    const raw = get(key);
    const flag = flagName(key);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
      problems.push(`${flag} must be a whole number from ${min} to ${max} (got ${JSON.stringify(raw)})`);
      return fallback;
    }
    return n;
  };
  const positive = (key: SimulateFlag, fallback: number | undefined): number | undefined => {
    const raw = get(key);
    const flag = flagName(key);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n) || n <= 0) {
      problems.push(`${flag} must be a number > 0 (got ${JSON.stringify(raw)})`);
      return fallback;
    }
    return n;
  };
  const duration = (key: SimulateFlag, fallback: number): number => {
    const raw = get(key);
    const flag = flagName(key);
    if (raw === undefined) return fallback;
    const ms = parseDurationMs(raw);
    if (ms === undefined) {
      problems.push(`${flag} must be a duration like 200ms, 0.5s or 1m (got ${JSON.stringify(raw)})`);
      return fallback;
    }
    return ms;
  };

  const traces = parseTraces(get('trace') ?? 'all', problems);
  const policies = parsePolicies(get('policy') ?? 'all', problems);
  const targetWaitP95Ms = duration('targetWait', comparisonConfig.targetWaitP95Ms);
  if (targetWaitP95Ms <= 0) problems.push(`--target-wait must be more than 0 ms (got ${JSON.stringify(get('targetWait'))})`);
  const serviceMs = positive('serviceMs', simulationDefaults.service.meanMs)!;
  const serviceCv = positive('serviceCv', undefined);
  const concurrency = wholeNumber('concurrency', comparisonConfig.concurrency, 1, 1000);
  const min = wholeNumber('min', comparisonConfig.min, 0, 10_000);
  const max = wholeNumber('max', comparisonConfig.max, 1, 10_000);
  if (max < min) problems.push(`--max must be >= --min (got ${max} < ${min})`);
  const maxStepUp = wholeNumber('maxStepUp', comparisonConfig.maxStepUp, 1, 10_000);
  const maxStepDown = wholeNumber('maxStepDown', comparisonConfig.maxStepDown, 1, 10_000);
  const spares = wholeNumber('spares', simulationDefaults.spares, 0, 1000);
  const presetName = get('preset') ?? 'local';
  if (!(presetName in PRESETS)) problems.push(`--preset must be ${Object.keys(PRESETS).join(' or ')} (got ${JSON.stringify(presetName)})`);
  const preset = PRESETS[presetName as PresetName] ?? PRESETS.local;
  const startDelayMs = duration('startDelay', preset.startDelay.meanMs);
  const jitterMs = duration('startJitter', preset.startDelay.jitterMs);
  const controlIntervalMs = duration('scaleInterval', simulationDefaults.controlIntervalMs);
  if (controlIntervalMs < 100) problems.push(`--scale-interval must be at least 100ms (got ${JSON.stringify(get('scaleInterval'))})`);
  const metricsIntervalMs = duration('metricsInterval', simulationDefaults.metricsIntervalMs);
  const burstMemoryMs = duration('burstMemory', comparisonConfig.burstMemoryMs);
  if (jitterMs > startDelayMs) problems.push(`--start-jitter must be <= --start-delay (got ${jitterMs}ms > ${startDelayMs}ms)`);
  const scale = positive('scale', 1)!;
  const seed = wholeNumber('seed', simulationDefaults.seed, 0, 2 ** 32 - 1);
  if (problems.length > 0) throw new OptionsError(problems);

  return {
    traces,
    policies,
    scale,
    timeline: flags.timeline === true,
    tuning: flags.tunePerTrace === true ? 'per-trace' : 'all-traces',
    json: flags.json === true,
    oracle: flags.oracle === true,
    base: {
      config: { targetWaitP95Ms, concurrency, min, max, maxStepUp, maxStepDown, burstMemoryMs },
      service: serviceCv === undefined ? { meanMs: serviceMs } : { meanMs: serviceMs, cv: serviceCv },
      spares,
      startDelay: { meanMs: startDelayMs, jitterMs },
      controlIntervalMs,
      metricsIntervalMs,
      seed,
    },
  };
}

/** "all", one name, a comma-separated list (builtin names and gen:<seed>), or csv:<path>. */
function parseTraces(value: string, problems: string[]): TraceSpec[] {
  if (value.startsWith('csv:')) {
    const path = value.slice(4);
    if (path === '') problems.push('--trace csv: needs a file path, e.g. csv:./trace.csv');
    return [{ kind: 'csv', path }];
  }
  if (value === 'all') return BUILTIN_TRACES.map((name) => ({ kind: 'builtin', name }));
  const specs: TraceSpec[] = [];
  for (const name of value.split(',').map((s) => s.trim())) {
    const generated = /^gen[:-](\d+)$/.exec(name);
    if (generated) specs.push({ kind: 'generated', seed: Number(generated[1]) });
    else if ((BUILTIN_TRACES as readonly string[]).includes(name)) specs.push({ kind: 'builtin', name: name as BuiltinTraceName });
    else problems.push(`--trace must be ${BUILTIN_TRACES.join(', ')}, gen:<seed>, all, a comma-separated list of them, or csv:<path> (got ${JSON.stringify(name)})`);
  }
  return specs;
}

function parsePolicies(value: string, problems: string[]): PolicyName[] {
  if (value === 'all') return [...POLICY_NAMES];
  const names: PolicyName[] = [];
  for (const name of value.split(',').map((s) => s.trim())) {
    if ((POLICY_NAMES as readonly string[]).includes(name)) names.push(name as PolicyName);
    else problems.push(`--policy must be ${POLICY_NAMES.join(', ')}, all, or a comma-separated list of them (got ${JSON.stringify(name)})`);
  }
  return names;
}
