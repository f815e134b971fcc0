import type { PolicyName } from '../policy/index.js';
import { hindsightLowerBound, runOracle } from './oracle.js';
import { simulate, type SimulationOptions, type SimulationResult } from './simulate.js';
import type { Trace } from './traces.js';

/** The queue-length baseline is tuned per trace over these targets (messages per worker). */
export const QUEUE_LENGTH_TARGETS = [1, 2, 3, 5, 8, 13, 20, 30, 50] as const;

/** Everything but the trace and the policy, which the comparison varies. */
export type BaseOptions = Omit<SimulationOptions, 'trace' | 'policyName' | 'policy'>;

/**
 * How the KEDA-like baseline is tuned: one setting that meets the target on
 * every trace compared (what an operator, who cannot know the next day's load,
 * has to pick), or the best setting for each trace on its own (hindsight).
 */
export type Tuning = 'all-traces' | 'per-trace';

export interface QueueLengthTuning {
  /** The targetQueueLength used: the largest that met the wait target, or 1 if none did. */
  chosen: number;
  met: boolean;
  mode: Tuning;
  tried: { targetQueueLength: number; waitP95Ms: number; workerSeconds: number }[];
}

/** The registry's policies, and the feasible oracle (oracle.ts), which knows the trace in advance. */
/** 'reactive oracle': knows the present need exactly, not the future (no look-ahead): the best any policy that reacts can do. */
export type RunLabel = PolicyName | 'oracle' | 'reactive oracle';

export interface PolicyRun {
  policy: RunLabel;
  result: SimulationResult;
  meetsTarget: boolean;
  tuning?: QueueLengthTuning;
}

export interface TraceComparison {
  trace: string;
  durationMs: number;
  /** The hindsight lower bound of worker-seconds (oracle.ts): what the "x oracle" column divides by. */
  lowerBoundWorkerSeconds: number;
  runs: PolicyRun[];
}

/** Worker-seconds as a multiple of the hindsight lower bound (1 = as cheap as the bound). */
export function timesOracle(run: PolicyRun, comparison: TraceComparison): number {
  return comparison.lowerBoundWorkerSeconds > 0 ? run.result.workerSeconds / comparison.lowerBoundWorkerSeconds : Infinity;
}

export function meetsTarget(result: SimulationResult): boolean {
  return result.waitMs.p95 <= result.config.targetWaitP95Ms;
}

/**
 * Gives the KEDA-like baseline its best shot: the largest targetQueueLength
 * (fewest workers) whose p95 wait meets the target on this trace. Tried from
 * the largest down, so the first that meets it is the answer.
 */
export function tuneQueueLength(trace: Trace, base: BaseOptions): { result: SimulationResult; tuning: QueueLengthTuning } {
  const tried: QueueLengthTuning['tried'] = [];
  let last: SimulationResult | undefined;
  for (const targetQueueLength of [...QUEUE_LENGTH_TARGETS].reverse()) {
    const result = simulate({ ...base, trace, policyName: 'queue-length', config: { ...base.config, targetQueueLength } });
    tried.push({ targetQueueLength, waitP95Ms: result.waitMs.p95, workerSeconds: result.workerSeconds });
    if (meetsTarget(result)) return { result, tuning: { chosen: targetQueueLength, met: true, mode: 'per-trace', tried } };
    last = result;
  }
  // The loop ends on the smallest target, 1: the fallback when none meets the target.
  return { result: last!, tuning: { chosen: QUEUE_LENGTH_TARGETS[0], met: false, mode: 'per-trace', tried } };
}

/** The largest targetQueueLength that meets the wait target on every trace (1 if none does). */
export function tuneQueueLengthForAll(traces: readonly Trace[], base: BaseOptions): { chosen: number; met: boolean } {
  for (const targetQueueLength of [...QUEUE_LENGTH_TARGETS].reverse()) {
    const meetsAll = traces.every((trace) => meetsTarget(simulate({ ...base, trace, policyName: 'queue-length', config: { ...base.config, targetQueueLength } })));
    if (meetsAll) return { chosen: targetQueueLength, met: true };
  }
  return { chosen: QUEUE_LENGTH_TARGETS[0], met: false };
}

/**
 * Every policy on every trace, with the same seed and so the same requests.
 * `withOracle` adds the feasible oracle's run as a last row.
 */
export function comparePolicies(
  traces: readonly Trace[],
  policyNames: readonly PolicyName[],
  base: BaseOptions,
  tuning: Tuning = 'all-traces',
  withOracle = false,
): TraceComparison[] {
  const shared = tuning === 'all-traces' && policyNames.includes('queue-length') ? tuneQueueLengthForAll(traces, base) : undefined;
  return traces.map((trace) => {
    const runs = policyNames.map((policy) => runPolicy(trace, policy, base, shared));
    if (withOracle) runs.push(oracleRun(trace, base));
    return {
      trace: trace.name,
      durationMs: trace.durationMs,
      lowerBoundWorkerSeconds: hindsightLowerBound(trace, { service: base.service, config: base.config, spares: base.spares }).workerSeconds,
      runs,
    };
  });
}

function runPolicy(trace: Trace, policy: PolicyName, base: BaseOptions, shared: { chosen: number; met: boolean } | undefined): PolicyRun {
  if (policy === 'queue-length' && shared) {
    const result = simulate({ ...base, trace, policyName: policy, config: { ...base.config, targetQueueLength: shared.chosen } });
    return { policy, result, meetsTarget: meetsTarget(result), tuning: { ...shared, mode: 'all-traces', tried: [] } };
  }
  if (policy === 'queue-length') {
    const { result, tuning } = tuneQueueLength(trace, base);
    return { policy, result, meetsTarget: meetsTarget(result), tuning };
  }
  const result = simulate({ ...base, trace, policyName: policy });
  return { policy, result, meetsTarget: meetsTarget(result) };
}

function oracleRun(trace: Trace, base: BaseOptions): PolicyRun {
  // result.policy is the label simulate() was given; the run's own label is 'oracle'.
  const { result } = runOracle(trace, base);
  return { policy: 'oracle', result, meetsTarget: meetsTarget(result) };
}
