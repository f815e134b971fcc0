import { latencyThresholdPolicy, queueLengthPolicy } from './baselines.js';
import { targetWaitPolicy } from './target-wait.js';
import type { Policy, PolicyConfig } from './types.js';

export type { Decision, Observation, Policy, PolicyConfig, PoolView, Recommendation, Sizing } from './types.js';

/** Selectable with --policy; target-wait is the default, the others are baselines to compare against. */
export const policies = {
  'target-wait': targetWaitPolicy,
  'latency-threshold': latencyThresholdPolicy,
  'queue-length': queueLengthPolicy,
} as const satisfies Record<string, Policy>;

export type PolicyName = keyof typeof policies;
export const POLICY_NAMES = Object.keys(policies) as [PolicyName, ...PolicyName[]];

export const defaultPolicyConfig: PolicyConfig = {
  min: 1,
  max: 10,
  concurrency: 4,
  targetWaitP95Ms: 200,
  // The model knows how many workers a burst needs: a step limit would only make it wait
  // (a doubling per decision took 5 s to reach 100 workers); --max is the guard.
  maxStepUp: 1000,
  maxStepDown: 1,
  scaleDownShare: 0.5,
  scaleDownStabilizationMs: 5_000,
  // Adaptive spares cost headroom between bursts: off unless asked for (--burst-memory).
  burstMemoryMs: 0,
  backlogDrainMs: 500,
  targetQueueLength: 5,
};
