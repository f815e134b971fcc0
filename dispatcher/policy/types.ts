import type { Observation } from '../../infra/pool-status.js';

/**
 * The scaling policy's inputs and output. A policy is a pure function of what
 * was observed and the pool as it stands: it sizes the pool and nothing else.
 * What happens around it (bounds, the scale-down window, step limits, spare
 * promotion, which worker goes) is the control step's (dispatcher/control/),
 * shared by the live dispatcher and the simulator, as Kubernetes splits the
 * HPA's replica calculator from its scaling behaviour.
 */

/** What the dispatcher measured: defined with the pool's status (infra/pool-status.ts), which shows it. */
export type { Observation };

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
  /** At most max(this, the current count) workers added by one decision (HPA: 4 pods or 100 %). */
  maxStepUp: number;
  /** At least this many workers may go in one decision, however small the pool. */
  maxStepDown: number;
  /** At most this share of the pool goes in one decision (HPA's percent policy), or maxStepDown if that is more. */
  scaleDownShare: number;
  /**
   * No scale-down for this long after any increase, and then only to the
   * highest steady-state need of this window, so the pool does not flap.
   */
  scaleDownStabilizationMs: number;
  /**
   * Adaptive spares: keep warm headroom for the largest surge seen within this
   * long, so that a recurring burst meets capacity that already consumes. 0: off.
   */
  burstMemoryMs: number;
  /** target-wait policy: an existing backlog should be cleared within this long. */
  backlogDrainMs: number;
  /** queue-length baseline (KEDA-like): messages per worker it aims for. */
  targetQueueLength: number;
}

/** A policy's answer, before bounds and the scale-down window. */
export interface Sizing {
  /** Regular workers wanted now. */
  workers: number;
  /**
   * What the pool needs once a passing backlog has cleared: what the
   * scale-down window remembers, so that extra workers for a backlog go as
   * soon as it has cleared and the window has passed.
   */
  steady: number;
  /** Why, for the log: inputs and the rule that decided. */
  reason: string;
  /** Requests per second arriving beyond what the pool served, when it saw itself overloaded: what warm headroom would have absorbed. */
  surge?: number;
}

/** A steady-state need the control step remembers for the scale-down window. */
export interface Recommendation {
  at: number;
  workers: number;
}

export interface Decision {
  /** Regular workers the pool should have, counting those still starting. */
  desired: number;
  /** The steady-state need, bounded: what the scale-down window remembers. */
  recommendation: number;
  /** Why, for the log. */
  reason: string;
}

/** `now` is passed in, never read: a policy may look at the time (the simulator's oracle does), not the clock. */
export type Policy = (observation: Observation, pool: PoolView, config: PolicyConfig, now: number) => Sizing;
