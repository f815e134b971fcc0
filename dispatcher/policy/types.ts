/**
 * The scaling policy's inputs and output. A policy is a pure function: no I/O,
 * no clock (`now` is passed in). The live dispatcher and the simulator call
 * the same policies.
 */

/** What the dispatcher measured, smoothed over a window. */
export interface Observation {
  /** Requests arriving per second. */
  arrivalRate: number;
  /** Mean time a worker spends on one request, in ms; undefined before any request completed. */
  serviceMs: number | undefined;
  /** Requests waiting in the queue, not yet delivered to any worker. */
  backlog: number;
  /** Requests delivered to workers and not yet acked. */
  inFlight: number;
  /** Observed p95 of the time from publish to delivery, in ms; undefined with too few samples. */
  waitP95Ms: number | undefined;
}

/** The pool as it stands. Only regular workers are sized by the policy; spares are kept apart. */
export interface PoolView {
  /** Regular workers that are consuming. */
  active: number;
  /** Regular workers started but not consuming yet: capacity that is on its way. */
  starting: number;
  /** Warm spares that are consuming: they serve overflow at once, so they are capacity too. */
  spares: number;
}

export interface PolicyConfig {
  min: number;
  max: number;
  /** Requests one worker runs at once (its prefetch). */
  concurrency: number;
  /** The p95 queue wait the pool should stay under. */
  targetWaitP95Ms: number;
  /** At most this many workers added by one decision. */
  maxStepUp: number;
  /** At most this many workers removed by one decision. */
  maxStepDown: number;
  /** Scale down only to the highest recommendation of this window, so the pool does not flap. */
  scaleDownStabilizationMs: number;
  /** target-wait policy: an existing backlog should be cleared within this long. */
  backlogDrainMs: number;
  /** queue-length baseline (KEDA-like): messages per worker it aims for. */
  targetQueueLength: number;
}

/** A past recommendation, kept by the caller for the stabilization window. */
export interface Recommendation {
  at: number;
  workers: number;
}

export interface Decision {
  /** Regular workers the pool should have, counting those still starting. */
  desired: number;
  /** What the policy would pick without step limits and stabilization; the caller stores it in the history. */
  recommendation: number;
  /** Why, for the log: inputs and the rule that decided. */
  reason: string;
}

export type Policy = (
  observation: Observation,
  pool: PoolView,
  config: PolicyConfig,
  now: number,
  history: readonly Recommendation[],
) => Decision;
