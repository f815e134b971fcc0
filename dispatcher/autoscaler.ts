import { errorMessage } from '../infra/errors.js';
import type { Logger } from '../infra/log.js';
import type { ObservationWindow } from './metrics/window.js';
import type { MetricsSource } from './metrics/types.js';
import type { Decision, Observation, Policy, PolicyConfig, PoolView, Recommendation } from './policy/types.js';
import type { Pool, PoolEvent } from './pool.js';

export interface AutoscalerOptions {
  pool: Pool;
  metrics: MetricsSource;
  window: ObservationWindow;
  policy: Policy;
  config: PolicyConfig;
  intervalMs: number;
  logger: Logger;
  /** Called after every decision: status, metrics, event log. */
  onTick?: (tick: Tick) => void;
}

export interface Tick {
  at: number;
  observation: Observation;
  pool: PoolView;
  decision: Decision;
  /** Whether the decision changed the pool's size. */
  changed: boolean;
}

/**
 * The control loop: observe -> decide -> act, once per interval. The policy is
 * pure; this is the only place that feeds it the clock and acts on its answer.
 * Ticks never overlap: the next one is scheduled when the last has finished.
 */
export class Autoscaler {
  private readonly history: Recommendation[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(private readonly options: AutoscalerOptions) {
    // A spare promoted because it was saturated is the pool saying it needed one more: remember
    // it as a recommendation, so the scale-down window does not drain a worker for it at once.
    options.pool.on('event', (event: PoolEvent) => {
      if (event.type === 'promoted' && event.saturated) {
        const view = options.pool.view();
        this.history.push({ at: Date.now(), workers: view.active + view.starting });
      }
    });
  }

  start(): void {
    this.running = true;
    this.schedule();
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.tick(Date.now())
        .catch((err: unknown) => this.options.logger.error({ err: errorMessage(err) }, 'scaling tick failed'))
        .finally(() => this.schedule());
    }, this.options.intervalMs);
  }

  async tick(now: number): Promise<Tick> {
    const { pool, metrics, window, policy, config, logger } = this.options;
    const sample = await metrics.sample(now);
    window.add(sample);
    pool.observe(sample.reports, now);
    const observation = window.observe(now);
    const view = pool.view();
    const decision = policy(observation, view, config, now, this.history);
    this.history.push({ at: now, workers: decision.recommendation });
    while (this.history.length > 0 && now - this.history[0]!.at > config.scaleDownStabilizationMs) this.history.shift();

    const current = view.active + view.starting;
    const changed = decision.desired !== current && this.running;
    if (changed) {
      logger.info({ from: current, to: decision.desired, observation }, decision.reason);
      await pool.resize(decision.desired);
    } else {
      logger.debug({ observation }, decision.reason);
    }
    const tick = { at: now, observation, pool: view, decision, changed };
    this.options.onTick?.(tick);
    return tick;
  }
}
