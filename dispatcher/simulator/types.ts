import type { Plan } from '../control/control-step.js';
import type { MemberView } from '../control/members.js';
import type { Sample } from '../metrics/types.js';
import type { WindowOptions } from '../metrics/window.js';
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
  /** A spare is promoted after this many control ticks in a row with every slot busy (the live dispatcher's 3). */
  promoteAfterTicks?: number;
  startDelay?: StartDelay;
  seed?: number;
  controlIntervalMs?: number;
  /** How often the policy's inputs are refreshed (a metrics poll); 0: at every control tick. */
  metricsIntervalMs?: number;
  /** How often workers report (completions, waits, in flight); the dispatcher sees them this late. */
  reportIntervalMs?: number;
  /** The observation windows; the live dispatcher's by default. */
  window?: WindowOptions;
  timelineBucketMs?: number;
  /** Called after every control decision, e.g. to log why the pool changed. */
  onDecision?: (at: number, observation: Observation, decision: Decision) => void;
  /** Called with every sample fed to the control loop and the plan it gave (the equivalence test replays them). */
  onPlan?: (sample: Sample | undefined, members: readonly MemberView[], plan: Plan) => void;
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
