import type { Observation, PolicyConfig, Sizing } from '../policy/index.js';

/**
 * Adaptive spares: remembers the largest surge (requests per second that
 * arrived beyond what the pool served, as the policy saw it) within
 * config.burstMemoryMs, and keeps that much warm headroom on top of the
 * policy's sizing. A burst that comes back then meets workers that already
 * consume instead of waiting out a start: the cost is the headroom's
 * worker-seconds between bursts. Pure: the caller passes `now`.
 */
export class BurstMemory {
  private readonly surges: { at: number; rate: number }[] = [];

  constructor(private readonly config: PolicyConfig) {}

  apply(sizing: Sizing, observation: Observation, now: number): Sizing {
    const { burstMemoryMs, concurrency } = this.config;
    if (burstMemoryMs <= 0) return sizing;
    if (sizing.surge && sizing.surge > 0) this.surges.push({ at: now, rate: sizing.surge });
    while (this.surges.length > 0 && now - this.surges[0]!.at >= burstMemoryMs) this.surges.shift();
    if (this.surges.length === 0 || observation.serviceMs === undefined) return sizing;
    const largest = this.surges.reduce((a, b) => (b.rate >= a.rate ? b : a));
    const headroom = Math.ceil((largest.rate * observation.serviceMs) / 1000 / concurrency);
    if (headroom <= 0) return sizing;
    return {
      ...sizing,
      workers: sizing.workers + headroom,
      steady: sizing.steady + headroom,
      reason: `${sizing.reason}; +${headroom} warm for the ${Math.round(largest.rate)}/s surge ${Math.round((now - largest.at) / 1000)}s ago`,
    };
  }
}
