import { waitQuantile } from './erlang.js';
import { describeInputs } from './inputs.js';
import type { Policy, PolicyConfig } from './types.js';

/**
 * The default policy: the fewest workers whose predicted p95 queue wait meets
 * the target.
 *
 * - The pool is an M/M/c queue with c = workers x concurrency servers, each
 *   serving at 1/serviceTime; Erlang C gives the p95 wait for a worker count.
 * - An existing backlog adds backlog/backlogDrainMs to the arrival rate, so
 *   that it clears within that window on top of new arrivals. The steady-state
 *   need (arrivals alone) is what the scale-down window remembers, so the
 *   extra workers can go once the backlog has cleared.
 * - There is no correction from the observed p95 wait: it covers 10 s and
 *   stays high long after a surge has been caught up with (a +7 correction
 *   on a stale p95 made the pool flap on Docker). When the model is wrong
 *   about a pool that is too small, the backlog grows, and saturation above
 *   sizes the pool from that.
 * - Workers still starting count as capacity on its way (PoolView.starting),
 *   so a burst does not start duplicates.
 */
/** A backlog that alone means this share of the target in wait is overload, not noise. */
const SATURATION_SHARE_OF_TARGET = 0.25;

export const targetWaitPolicy: Policy = (observation, pool, config) => {
  const current = pool.active + pool.starting;
  const inputs = describeInputs(observation);
  const { serviceMs, backlog, arrivalRate } = observation;
  const target = config.targetWaitP95Ms;

  if (serviceMs === undefined || serviceMs <= 0) {
    // Nothing measured yet: grow by one while work waits, otherwise stay at the floor.
    const workers = backlog > 0 ? current + 1 : config.min;
    return { workers, steady: workers, reason: `${inputs}; no service time measured yet` };
  }

  const mu = 1000 / serviceMs; // per server, per second
  // While requests wait, every consuming slot is busy: the pool completes (active + spares) x
  // concurrency x mu per second, and the queue grows on top. The queue's own count has no report
  // lag and no smoothing, so this sees a burst at the first sample.
  const serving = (pool.active + pool.spares) * config.concurrency * mu;
  // A few requests waiting a moment is Poisson noise, not overload.
  const overloaded = backlog > 0 && backlog / serving > (target / 1000) * SATURATION_SHARE_OF_TARGET;
  const saturated = overloaded ? serving + observation.backlogGrowth : 0;
  const lambda = Math.max(arrivalRate, saturated);
  const steady = workersFor(lambda, mu, config, pool.spares);
  const { workers: needed, predictedMs } = workersFor(lambda + backlog / (config.backlogDrainMs / 1000), mu, config, pool.spares, current);
  let why = `${inputs}${lambda > arrivalRate ? `; saturated: ${Math.round(lambda)}/s arriving` : ''}; model needs ${needed} for p95 wait ${Number.isFinite(predictedMs) ? Math.round(predictedMs) : 'unbounded'} ms <= ${target} ms target`;
  if (backlog > 0 && needed > steady.workers) why += ` (${steady.workers} once the backlog is cleared)`;

  const surge = overloaded ? Math.max(0, lambda - serving) : undefined;
  return { workers: needed, steady: Math.max(steady.workers, Math.min(needed, current)), reason: why, surge };
};

/**
 * The fewest regular workers whose Erlang C p95 wait meets the target at
 * arrival rate lambda (config.max if none does). Consuming spares count as
 * servers: the broker hands them whatever the regular workers cannot take.
 * Growing from `current`, the consuming spares are promoted first
 * (control/control-step.ts), and their replacements serve only once started:
 * until then each promoted spare is a spare fewer. Counting it twice sized a
 * step in load one worker short, and the backlog grew while that one started.
 */
function workersFor(lambda: number, mu: number, config: PolicyConfig, spares: number, current = Infinity): { workers: number; predictedMs: number } {
  if (lambda <= 0) return { workers: config.min, predictedMs: 0 };
  let predictedMs = Infinity;
  for (let n = Math.max(config.min, 1); n <= config.max; n++) {
    const sparesLeft = Math.max(0, spares - Math.max(0, n - current));
    predictedMs = waitQuantile((n + sparesLeft) * config.concurrency, lambda, mu, 0.95) * 1000;
    if (predictedMs <= config.targetWaitP95Ms) return { workers: n, predictedMs };
  }
  return { workers: config.max, predictedMs };
}
