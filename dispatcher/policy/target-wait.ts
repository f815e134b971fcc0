import { boundDecision, describeInputs } from './bounds.js';
import { waitQuantile } from './erlang.js';
import type { Policy, PolicyConfig } from './types.js';

/**
 * The default policy: the fewest workers whose predicted p95 queue wait meets
 * the target.
 *
 * - The pool is an M/M/c queue with c = workers x concurrency servers, each
 *   serving at 1/serviceTime; Erlang C gives the p95 wait for a worker count.
 * - An existing backlog adds backlog/backlogDrainMs to the arrival rate, so
 *   that it clears within that window on top of new arrivals. What the
 *   scale-down window remembers is the steady-state need (arrivals alone), so
 *   the extra workers go as soon as the backlog has cleared.
 * - If the observed p95 wait is over target while work waits and the model
 *   says the pool is big enough, the model is wrong about something (service
 *   time variance, uneven load, a rate it has not seen yet): grow anyway, in
 *   proportion to the miss.
 * - Workers still starting count as capacity on its way (PoolView.starting),
 *   so a burst does not start duplicates.
 */
export const targetWaitPolicy: Policy = (observation, pool, config, now, history) => {
  const current = pool.active + pool.starting;
  const inputs = describeInputs(observation);
  const { serviceMs, backlog, arrivalRate, waitP95Ms } = observation;
  const target = config.targetWaitP95Ms;

  if (serviceMs === undefined || serviceMs <= 0) {
    // Nothing measured yet: grow by one while work waits, otherwise stay at the floor.
    const workers = backlog > 0 ? current + 1 : config.min;
    return boundDecision(workers, pool, config, now, history, `${inputs}; no service time measured yet`);
  }

  const mu = 1000 / serviceMs; // per server, per second
  const steady = workersFor(arrivalRate, mu, config, pool.spares);
  const { workers: needed, predictedMs } = workersFor(arrivalRate + backlog / (config.backlogDrainMs / 1000), mu, config, pool.spares);
  let workers = needed;
  let why = `${inputs}; model needs ${workers} for p95 wait ${Number.isFinite(predictedMs) ? Math.round(predictedMs) : 'unbounded'} ms <= ${target} ms target`;
  if (backlog > 0 && workers > steady.workers) why += ` (${steady.workers} once the backlog is cleared)`;

  if (waitP95Ms !== undefined && waitP95Ms > target && workers <= current && backlog > 0) {
    // Grow in proportion to the miss: half of current x (observed/target - 1), at least one.
    const extra = Math.max(1, Math.ceil((current * (waitP95Ms / target - 1)) / 2));
    workers = current + extra;
    why = `${inputs}; observed p95 wait ${Math.round(waitP95Ms)} ms > ${target} ms target with work waiting, although the model is satisfied: +${extra}`;
  }
  return boundDecision(workers, pool, config, now, history, why, Math.max(steady.workers, Math.min(workers, current)));
};

/**
 * The fewest regular workers whose Erlang C p95 wait meets the target at
 * arrival rate lambda (config.max if none does). Consuming spares count as
 * servers: the broker hands them whatever the regular workers cannot take.
 */
function workersFor(lambda: number, mu: number, config: PolicyConfig, spares: number): { workers: number; predictedMs: number } {
  if (lambda <= 0) return { workers: config.min, predictedMs: 0 };
  let predictedMs = Infinity;
  for (let n = Math.max(config.min, 1); n <= config.max; n++) {
    predictedMs = waitQuantile((n + spares) * config.concurrency, lambda, mu, 0.95) * 1000;
    if (predictedMs <= config.targetWaitP95Ms) return { workers: n, predictedMs };
  }
  return { workers: config.max, predictedMs };
}
