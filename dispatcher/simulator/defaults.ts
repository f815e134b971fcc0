import { PROMOTE_AFTER_OBSERVATIONS } from '../control/control-step.js';
import { defaultWindowOptions, type WindowOptions } from '../metrics/window.js';
import { defaultPolicyConfig, type PolicyConfig } from '../policy/index.js';

/** The comparison's pool: 4 slots per worker, 1..50 workers, p95 wait under 200 ms. */
export const comparisonConfig: PolicyConfig = {
  ...defaultPolicyConfig,
  min: 1,
  max: 50,
  concurrency: 4,
  targetWaitP95Ms: 200,
};

/** Service time: exponential with this mean, or lognormal when a coefficient of variation is given. */
export interface ServiceModel {
  meanMs: number;
  cv?: number;
}

/**
 * Time from asking for a worker to it consuming: uniform in mean ± jitter,
 * plus perConcurrentMs for every other worker starting at that moment (on a
 * small host, containers that boot together share its cores: 6 at once took
 * 7.7 s to consume on this project's 2-core machine, 1 took 0.45-0.65 s).
 */
export interface StartDelay {
  meanMs: number;
  jitterMs: number;
  perConcurrentMs?: number;
}

export const simulationDefaults = {
  service: { meanMs: 50 } as ServiceModel,
  spares: 1,
  /** As the live control step: a spare is promoted after 3 saturated observations in a row. */
  promoteAfterTicks: PROMOTE_AFTER_OBSERVATIONS,
  startDelay: { meanMs: 450, jitterMs: 100 } as StartDelay,
  seed: 1,
  /** As the live dispatcher's --scale-interval. */
  controlIntervalMs: 250,
  /** How often the policy's inputs are refreshed; between refreshes it sees the last sample. 0: at every control tick. */
  metricsIntervalMs: 0,
  /** How often each worker writes its report (the worker's SHOAL_REPORT_INTERVAL_MS): completions and waits reach the dispatcher this late. */
  reportIntervalMs: 1000,
  /** The live dispatcher's observation windows (dispatcher/metrics/window.ts). */
  window: defaultWindowOptions as WindowOptions,
  timelineBucketMs: 5000,
};

/**
 * Named settings for where the pool runs. `swarm`: workers are the tasks of a
 * Swarm service on a multi-node cluster. A task takes longer to consume than a
 * local container: the dispatcher's service update, swarmkit's orchestrator
 * and scheduler, the node agent's registry check of the image tag, then the
 * container and the worker's connection (one task took 0.7 s from the update to
 * consuming on this project's idle single-node swarm, 8 at once 2.7 s on its 2
 * cores; 2 s ± 1 s is an assumption for a cluster, not a measurement).
 */
export const PRESETS = {
  local: { startDelay: simulationDefaults.startDelay },
  swarm: { startDelay: { meanMs: 2000, jitterMs: 1000 } as StartDelay },
} as const;
export type PresetName = keyof typeof PRESETS;
