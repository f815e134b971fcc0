import { waitQuantile } from '../policy/erlang.js';
import type { Policy, PolicyConfig } from '../policy/index.js';
import { comparisonConfig, simulationDefaults, type ServiceModel, type StartDelay } from './defaults.js';
import { simulate, type SimulationOptions, type SimulationResult } from './simulate.js';
import type { Trace } from './traces.js';

/**
 * What a policy could do at best, knowing the whole trace in advance.
 *
 * - The hindsight lower bound: each second gets the fewest workers whose
 *   predicted p95 wait meets the target at that second's mean rate, as if
 *   workers started and stopped instantly. No policy that reacts to the
 *   past can do better than this, to the model's accuracy.
 * - The feasible oracle: a policy that reads the same schedule ahead of time,
 *   so that workers started now are consuming when the need arrives. Played
 *   through the simulator, it gives a realistic attainment and cost for a
 *   policy that knows the future but has to live with start delays.
 */

/** The wait quantile the bound and the oracle size to the target unless told otherwise: the p95 of the target. */
export const DEFAULT_BOUND_QUANTILE = 0.95;

/** The pool the bound is computed for; undefined fields take the simulator's defaults. */
export interface OracleModel {
  service?: ServiceModel;
  config?: Partial<PolicyConfig>;
  spares?: number;
  /** The wait quantile that must meet config.targetWaitP95Ms (0.95). */
  quantile?: number;
}

export interface SecondNeed {
  /** Mean arrival rate over this second, requests/s. */
  rate: number;
  /** Fewest regular workers (config.min..config.max) that meet the target at that rate: the bound's. */
  workers: number;
  /**
   * The same at the highest rate sampled in the second: what the feasible
   * oracle provides, so that the part of a second inside a burst (its
   * sharp start or end) is not sized at the second's mean.
   */
  peakWorkers: number;
}

export interface LowerBound {
  /** One entry per second of the trace; the last one may cover a partial second. */
  perSecond: SecondNeed[];
  /** Spares kept beside the regular workers in every second (they cost too). */
  spares: number;
  config: PolicyConfig;
  /** Sum over seconds of (workers + spares) x the second's length. */
  workerSeconds: number;
}

/** Rate samples per second: the midpoints of 10 slices. */
const SAMPLES_PER_SECOND = 10;

/**
 * Service times with a coefficient of variation other than 1 wait longer (cv > 1)
 * or shorter (cv < 1) than M/M/c predicts. Allen–Cunneen's approximation for
 * G/G/c scales the M/M/c wait by (ca² + cs²)/2; arrivals here are Poisson
 * (ca = 1), so the factor is (1 + cv²)/2. It is an approximation of the mean
 * wait, applied to the quantile as well: good enough for a bound's sizing,
 * not an exact M/G/c result.
 */
export function allenCunneenFactor(cv: number): number {
  return (1 + cv * cv) / 2;
}

/** Predicted wait quantile in ms for a pool of `workers` regular workers plus spares. */
export function predictedWaitMs(workers: number, rate: number, model: ResolvedModel): number {
  const mu = 1000 / model.service.meanMs;
  const servers = (workers + model.spares) * model.config.concurrency;
  return waitQuantile(servers, rate, mu, model.quantile) * 1000 * allenCunneenFactor(model.service.cv ?? 1);
}

/** The fewest regular workers in [min, max] whose predicted wait meets the target (max if none does). */
export function workersNeeded(rate: number, model: ResolvedModel): number {
  const { config } = model;
  if (rate <= 0) return config.min;
  // Below this count the queue is unstable (offered load >= servers), so the search can start there.
  const offeredWorkers = rate / (1000 / model.service.meanMs) / config.concurrency;
  const first = Math.max(config.min, Math.floor(offeredWorkers) - model.spares);
  for (let n = first; n <= config.max; n++) {
    if (predictedWaitMs(n, rate, model) <= config.targetWaitP95Ms) return n;
  }
  return config.max;
}

export interface ResolvedModel {
  service: ServiceModel;
  config: PolicyConfig;
  spares: number;
  quantile: number;
}

export function resolveModel(model: OracleModel): ResolvedModel {
  return {
    service: model.service ?? simulationDefaults.service,
    config: { ...comparisonConfig, ...defined(model.config ?? {}) },
    spares: model.spares ?? simulationDefaults.spares,
    quantile: model.quantile ?? DEFAULT_BOUND_QUANTILE,
  };
}

/** Mean of trace.rate over [fromMs, toMs), by the midpoint rule, and the highest of those samples. */
export function sampleRate(trace: Trace, fromMs: number, toMs: number, samples = SAMPLES_PER_SECOND): { mean: number; peak: number } {
  const width = (toMs - fromMs) / samples;
  let sum = 0;
  let peak = 0;
  for (let i = 0; i < samples; i++) {
    const rate = trace.rate(fromMs + (i + 0.5) * width);
    sum += rate;
    peak = Math.max(peak, rate);
  }
  return { mean: sum / samples, peak };
}

/** The hindsight lower bound of worker-seconds: per-second need, instant starts and stops. */
export function hindsightLowerBound(trace: Trace, model: OracleModel = {}): LowerBound {
  const resolved = resolveModel(model);
  const perSecond: SecondNeed[] = [];
  let workerSeconds = 0;
  for (let fromMs = 0; fromMs < trace.durationMs; fromMs += 1000) {
    const toMs = Math.min(fromMs + 1000, trace.durationMs);
    const { mean: rate, peak } = sampleRate(trace, fromMs, toMs);
    const workers = workersNeeded(rate, resolved);
    perSecond.push({ rate, workers, peakWorkers: peak > rate ? workersNeeded(peak, resolved) : workers });
    workerSeconds += ((workers + resolved.spares) * (toMs - fromMs)) / 1000;
  }
  return { perSecond, spares: resolved.spares, config: resolved.config, workerSeconds };
}

/**
 * A policy that knows the future: at `now` it asks for the most workers any
 * second in [now, now + lookaheadMs] needs at its peak rate, plus one for
 * each spare still starting (the bound counts every spare as capacity), and
 * lets workers go as soon as the need drops (no stabilization, no step
 * limits). After the trace's end it asks for config.min.
 */
export function oraclePolicy(bound: LowerBound, lookaheadMs: number): Policy {
  const { perSecond } = bound;
  return (_observation, pool, config, now) => {
    const first = Math.floor(now / 1000);
    const last = Math.min(perSecond.length - 1, Math.floor((now + lookaheadMs) / 1000));
    let needed = config.min;
    for (let s = first; s <= last; s++) needed = Math.max(needed, perSecond[s]!.peakWorkers);
    // A promoted spare's replacement is still starting: the bound counted that spare, so cover for it.
    const missingSpares = Math.max(0, bound.spares - pool.spares);
    const workers = Math.min(config.max, needed + missingSpares);
    return { workers, steady: workers, reason: `oracle: most needed in seconds ${first}..${last} is ${needed}, ${missingSpares} spare(s) starting` };
  };
}

/**
 * What a policy that reacts could do with perfect measurements: at `now` it
 * asks for what the rate at `now` needs (no look-ahead, not even within the
 * second) plus what clears the backlog it sees within REACTIVE_DRAIN_MS, with
 * no lag and no stabilization. It still waits out the start delay, so what it
 * misses, no policy that only reacts can meet without warm headroom.
 */
export function reactiveOraclePolicy(trace: Trace, bound: LowerBound, model: OracleModel = {}): Policy {
  const resolved = resolveModel(model);
  return (observation, pool, config, now) => {
    const rate = (now < trace.durationMs ? trace.rate(now) : 0) + observation.backlog / (REACTIVE_DRAIN_MS / 1000);
    const needed = rate > 0 ? workersNeeded(rate, resolved) : config.min;
    const missingSpares = Math.max(0, bound.spares - pool.spares);
    const workers = Math.min(config.max, Math.max(config.min, needed) + missingSpares);
    return { workers, steady: workers, reason: `reactive oracle: ${needed} for the rate now and the backlog, ${missingSpares} spare(s) starting` };
  };
}

/** The reactive oracle clears a backlog within this long, as target-wait's default --backlog-drain. */
const REACTIVE_DRAIN_MS = 500;

/** The simulation settings the oracle depends on; undefined ones take the simulator's defaults. */
export type OracleRunOptions = Omit<SimulationOptions, 'trace' | 'policyName' | 'policy'>;

/**
 * How far ahead a worker must be asked for: the slowest start, plus one
 * control interval, since the next chance to start one is a tick away.
 */
export function oracleLookaheadMs(options: Pick<OracleRunOptions, 'startDelay' | 'controlIntervalMs'>): number {
  const start: StartDelay = options.startDelay ?? simulationDefaults.startDelay;
  return start.meanMs + start.jitterMs + (options.controlIntervalMs ?? simulationDefaults.controlIntervalMs);
}

const ORACLE_METRICS_INTERVAL_MS = 30_000;

/** The control step's limits do not bind the oracle: it grows and shrinks at once, without a window. */
const UNBOUNDED = { maxStepUp: 1_000_000, maxStepDown: 1_000_000, scaleDownShare: 1, scaleDownStabilizationMs: 0, burstMemoryMs: 0 };

export interface OracleRun {
  bound: LowerBound;
  /** The feasible oracle's run. simulate() labels it with a registry name; it is the oracle's. */
  result: SimulationResult;
}

/**
 * The lower bound for this trace and pool, and the feasible oracle played
 * through the simulator. `quantile`: the wait quantile sized to the target (0.95).
 */
export function runOracle(trace: Trace, options: OracleRunOptions = {}, quantile?: number, kind: 'feasible' | 'reactive' = 'feasible'): OracleRun {
  const model = { service: options.service, config: options.config, spares: options.spares, quantile };
  const bound = hindsightLowerBound(trace, model);
  const policy = kind === 'feasible' ? oraclePolicy(bound, oracleLookaheadMs(options)) : reactiveOraclePolicy(trace, bound, model);
  // policyName only labels the run inside simulate(); the decisions are the oracle's.
  // The oracle reads no observation, so they are refreshed rarely: measuring a p95 wait at every
  // tick was half the cost of a run at x100.
  // The feasible oracle reads no observation, so they are refreshed rarely; the reactive one reads the backlog at every tick.
  const metricsIntervalMs = kind === 'feasible' ? ORACLE_METRICS_INTERVAL_MS : 0;
  const result = simulate({ ...options, config: { ...options.config, ...UNBOUNDED }, metricsIntervalMs, trace, policyName: 'target-wait', policy });
  return { bound, result };
}

function defined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
