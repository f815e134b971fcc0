import type { Decision, PolicyConfig, PoolView, Recommendation } from './types.js';

/**
 * What every policy does with its raw recommendation, as Kubernetes' HPA does:
 * keep it within [min, max]; scale up at once but down only to the highest
 * recommendation of the stabilization window; add at most
 * max(maxStepUp, current) workers per decision (HPA's default: 4 pods or 100%)
 * and remove at most maxStepDown.
 *
 * `remember` is what goes into the history for later scale-down decisions; a
 * policy passes its steady-state need there when `recommended` also covers a
 * passing backlog, so the pool does not stay inflated for a whole window.
 */
export function boundDecision(
  recommended: number,
  pool: PoolView,
  config: PolicyConfig,
  now: number,
  history: readonly Recommendation[],
  why: string,
  remember: number = recommended,
): Decision {
  const current = pool.active + pool.starting;
  const target = clamp(Math.ceil(recommended), config.min, config.max);
  const recommendation = clamp(Math.ceil(remember), config.min, config.max);
  let desired = target;
  let rule = why;
  if (target < current) {
    const windowHigh = Math.max(
      target,
      ...history.filter((h) => now - h.at < config.scaleDownStabilizationMs).map((h) => h.workers),
    );
    if (windowHigh > target) rule += `; held at ${Math.min(windowHigh, current)} by the ${config.scaleDownStabilizationMs / 1000}s scale-down window`;
    desired = Math.min(current, windowHigh);
  }
  const stepped = clamp(desired, current - config.maxStepDown, current + Math.max(config.maxStepUp, current));
  if (stepped !== desired) rule += `; step limited to ${stepped - current > 0 ? '+' : ''}${stepped - current}`;
  desired = clamp(stepped, config.min, config.max);
  return { desired, recommendation, reason: `${current} -> ${desired}: ${rule}` };
}

export function clamp(value: number, low: number, high: number): number {
  return Math.max(low, Math.min(high, value));
}

/** The inputs of a decision, for its reason. */
export function describeInputs(o: { arrivalRate: number; serviceMs: number | undefined; backlog: number; inFlight: number; waitP95Ms: number | undefined }): string {
  const parts = [`arrival ${round(o.arrivalRate)}/s`];
  parts.push(o.serviceMs === undefined ? 'service unknown' : `service ${round(o.serviceMs)} ms`);
  parts.push(`backlog ${o.backlog}`, `in flight ${o.inFlight}`);
  if (o.waitP95Ms !== undefined) parts.push(`p95 wait ${round(o.waitP95Ms)} ms`);
  return parts.join(', ');
}

function round(n: number): number {
  return n >= 100 ? Math.round(n) : Math.round(n * 10) / 10;
}
