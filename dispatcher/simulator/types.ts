import type { Decision, Observation, Policy, PolicyConfig, PolicyName } from '../policy/index.js';
import type { ServiceModel, StartDelay } from './defaults.js';
import type { TimelineBucket } from './timeline.js';
import type { Trace } from './traces.js';

/** What one simulated run takes; everything but the trace and the policy has a default (defaults.ts). */
export interface SimulationOptions {
  trace: Trace;
  policyName: PolicyName;
  /** A candidate policy to try in place of the registry's; policyName still labels the run. */
  policy?: Policy;
  /** Overrides of the comparison config (min 1, max 50, concurrency 4, 200 ms target). */
  config?: Partial<PolicyConfig>;
  service?: ServiceModel;
  /** Warm spares kept beside the regular workers. */
  spares?: number;
  /**
   * 0: a spare is promoted the moment it gets work. n > 0: it serves overflow
   * as a low-priority consumer and is promoted at a control tick after having
   * had work in n ticks in a row (the live dispatcher's promoteAfter, 3).
   */
  promoteAfterTicks?: number;
  /** Record a promotion as a recommendation, so the scale-down window does not drain a worker for it at once (as the live autoscaler does). */
  rememberPromotions?: boolean;
  startDelay?: StartDelay;
  seed?: number;
  controlIntervalMs?: number;
  /** How often the policy's inputs are refreshed (a metrics poll); 0: at every control tick. */
  metricsIntervalMs?: number;
  rateWindowMs?: number;
  /** When set, the arrival rate is the higher of the rates over rateWindowMs and over this shorter window (the live dispatcher uses a third). */
  shortRateWindowMs?: number;
  statsWindowMs?: number;
  minWaitSamples?: number;
  timelineBucketMs?: number;
  /** Called after every control decision, e.g. to log why the pool changed. */
  onDecision?: (at: number, observation: Observation, decision: Decision) => void;
}

export interface SimulationResult {
  trace: string;
  policy: PolicyName;
  seed: number;
  config: PolicyConfig;
  /** Requests that arrived. */
  count: number;
  /** Requests that completed: the run ends only when this equals count. */
  completed: number;
  waitMs: { p50: number; p95: number; p99: number; max: number };
  /** Share of requests that waited longer than the target, in %. */
  overTargetPct: number;
  workerSeconds: number;
  scaleEvents: number;
  /** Spares that got work and joined the pool (each one starts a replacement). */
  promotions: number;
  maxWorkers: number;
  /** Time-weighted mean of regular workers (active + starting) over the run. */
  meanWorkers: number;
  /** The run ends at the trace's end or the last completion, whichever is later. */
  endMs: number;
  timeline: TimelineBucket[];
}
