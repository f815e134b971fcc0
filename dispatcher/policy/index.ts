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
  maxStepUp: 4,
  maxStepDown: 1,
  scaleDownShare: 0.5,
  scaleDownStabilizationMs: 30_000,
  backlogDrainMs: 500,
  targetQueueLength: 5,
};
