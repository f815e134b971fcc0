import type { PolicyName } from '../policy/index.js';
import { simulate, type SimulationOptions, type SimulationResult } from './simulate.js';
import type { Trace } from './traces.js';

/** The queue-length baseline is tuned per trace over these targets (messages per worker). */
export const QUEUE_LENGTH_TARGETS = [1, 2, 3, 5, 8, 13, 20, 30, 50] as const;

export type BaseOptions = Omit<SimulationOptions, 'trace' | 'policyName'>;

export interface QueueLengthTuning {
  /** The targetQueueLength used: the largest that met the wait target, or 1 if none did. */
  chosen: number;
  met: boolean;
  tried: { targetQueueLength: number; waitP95Ms: number; workerSeconds: number }[];
}

export interface PolicyRun {
  policy: PolicyName;
  result: SimulationResult;
  meetsTarget: boolean;
  tuning?: QueueLengthTuning;
}

export interface TraceComparison {
  trace: string;
  durationMs: number;
  runs: PolicyRun[];
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
    if (meetsTarget(result)) return { result, tuning: { chosen: targetQueueLength, met: true, tried } };
    last = result;
  }
  // The loop ends on the smallest target, 1: the fallback when none meets the target.
  return { result: last!, tuning: { chosen: QUEUE_LENGTH_TARGETS[0], met: false, tried } };
}

/** Every policy on every trace, with the same seed and so the same requests. */
export function comparePolicies(traces: readonly Trace[], policyNames: readonly PolicyName[], base: BaseOptions): TraceComparison[] {
  return traces.map((trace) => ({
    trace: trace.name,
    durationMs: trace.durationMs,
    runs: policyNames.map((policy): PolicyRun => {
      if (policy === 'queue-length') {
        const { result, tuning } = tuneQueueLength(trace, base);
        return { policy, result, meetsTarget: meetsTarget(result), tuning };
      }
      const result = simulate({ ...base, trace, policyName: policy });
      return { policy, result, meetsTarget: meetsTarget(result) };
    }),
  }));
}
