import type { Decision, PolicyConfig, Recommendation, Sizing } from '../policy/index.js';

/**
 * What happens to a policy's sizing before the pool acts on it, as the HPA's
 * scaling behaviour does:
 * - it is kept within [min, max];
 * - scale-up happens at once, by at most max(maxStepUp, current) per decision
 *   (HPA's default: 4 pods or 100 %);
 * - no scale-down for a whole window after any increase (a promotion or the
 *   policy's correction included), so a decision is never undone seconds later;
 * - then down only to the highest steady-state need of the window, and by at
 *   most max(maxStepDown, scaleDownShare x current) per decision, so a pool of
 *   hundreds comes down in a few decisions, not one worker a second.
 * Pure: the caller passes `now`.
 */
export class Stabilizer {
  private readonly history: Recommendation[] = [];
  private lastIncreaseAt = -Infinity;

  constructor(private readonly config: PolicyConfig) {}

  decide(sizing: Sizing, current: number, now: number): Decision {
    const { config } = this;
    const target = clamp(Math.ceil(sizing.workers), config.min, config.max);
    const recommendation = clamp(Math.ceil(Math.min(sizing.steady, sizing.workers)), config.min, config.max);
    this.remember(now, recommendation);
    let desired = target;
    let rule = sizing.reason;
    if (target > current) {
      desired = Math.min(target, current + Math.max(config.maxStepUp, current));
      if (desired < target) rule += `; step limited to +${desired - current}`;
    } else if (target < current) {
      const sinceIncrease = now - this.lastIncreaseAt;
      if (sinceIncrease < config.scaleDownStabilizationMs) {
        desired = current;
        rule += `; held at ${current}: scaled up ${Math.round(sinceIncrease / 100) / 10}s ago, within the ${config.scaleDownStabilizationMs / 1000}s window`;
      } else {
        const windowHigh = Math.max(target, ...this.history.map((h) => h.workers));
        if (windowHigh > target) rule += `; held at ${Math.min(windowHigh, current)} by the ${config.scaleDownStabilizationMs / 1000}s scale-down window`;
        desired = Math.min(current, windowHigh);
        const floor = current - Math.max(config.maxStepDown, Math.floor(current * config.scaleDownShare));
        if (desired < floor) rule += `; step limited to -${current - floor}`;
        desired = Math.max(desired, floor, config.min);
      }
    }
    if (desired > current) this.increased(now);
    return { desired, recommendation, reason: `${current} -> ${desired}: ${rule}` };
  }

  /** The pool grew (a decision, or a saturated spare promoted): no scale-down for a window. */
  increased(now: number): void {
    this.lastIncreaseAt = now;
  }

  private remember(now: number, workers: number): void {
    this.history.push({ at: now, workers });
    while (this.history.length > 0 && now - this.history[0]!.at >= this.config.scaleDownStabilizationMs) this.history.shift();
  }
}

export function clamp(value: number, low: number, high: number): number {
  return Math.max(low, Math.min(high, value));
}
