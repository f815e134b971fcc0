import { errorMessage } from '../infra/errors.js';
import type { Logger } from '../infra/log.js';
import { ControlLoop, type ControlLoopOptions } from './control/loop.js';
import type { Plan } from './control/control-step.js';
import type { MetricsSource } from './metrics/types.js';
import type { Pool } from './pool.js';

export interface AutoscalerOptions extends ControlLoopOptions {
  pool: Pick<Pool, 'observe' | 'members' | 'apply'>;
  metrics: MetricsSource;
  intervalMs: number;
  logger: Logger;
  /** Called after every decision: status, metrics, event log. */
  onTick?: (tick: Tick) => void;
}

export interface Tick extends Plan {
  /** Whether the plan changed the pool. */
  changed: boolean;
}

/**
 * The control loop's I/O: sample the metrics, hand the sample and the pool's
 * members to the pure ControlLoop, and have the pool carry out its plan, once
 * per interval. Ticks never overlap: the next one is scheduled when the last
 * has finished.
 */
export class Autoscaler {
  private readonly loop: ControlLoop;
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(private readonly options: AutoscalerOptions) {
    this.loop = new ControlLoop(options);
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
    const { pool, metrics, logger } = this.options;
    const sample = await metrics.sample(now);
    pool.observe(sample.reports, now);
    const plan = this.loop.tick(now, sample, pool.members());
    const changed = this.running && (plan.promote.length > 0 || plan.start > 0 || plan.retire.length > 0);
    if (changed) {
      logger.info({ from: plan.pool.active + plan.pool.starting, to: plan.decision.desired, observation: plan.observation }, plan.decision.reason);
      await pool.apply(plan);
    } else {
      logger.debug({ observation: plan.observation }, plan.decision.reason);
    }
    const tick = { ...plan, changed };
    this.options.onTick?.(tick);
    return tick;
  }
}
