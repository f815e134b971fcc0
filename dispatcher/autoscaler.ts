import { errorMessage } from '../infra/errors.js';
import type { Logger } from '../infra/log.js';
import { ControlLoop, type ControlLoopOptions } from './control/loop.js';
import type { Plan } from './control/control-step.js';
import { poolView } from './control/members.js';
import type { Observation } from './policy/index.js';
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
  /** Set when the tick held the pool as it was, and why: its figures were missing (the sample was blind). */
  held?: string;
}

/** What a held tick reports as its observation before any figures were read. */
const NOTHING_OBSERVED: Observation = { arrivalRate: 0, serviceMs: undefined, backlog: 0, backlogGrowth: 0, inFlight: 0, waitP95Ms: undefined };

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
  private lastObservation: Observation | undefined;
  /** Since when the pool is held for want of figures; undefined while they come. */
  private heldSince: number | undefined;

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
    if (sample.blind) return this.hold(now, sample.blind);
    if (this.heldSince !== undefined) {
      logger.info({ heldMs: now - this.heldSince }, 'the queue\'s figures are back: scaling again');
      this.heldSince = undefined;
    }
    const plan = this.loop.tick(now, sample, pool.members());
    this.lastObservation = plan.observation;
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

  /**
   * A tick without the queue's figures (e.g. BullMQ while Redis is down: the
   * queue and the reports are both there). An unreadable queue is not an empty
   * one: the control step is skipped, so nothing is started, promoted or
   * retired, and its history does not take in the blind sample. Said once per outage.
   */
  private hold(now: number, reason: string): Tick {
    const { pool, logger } = this.options;
    const view = poolView(pool.members());
    const size = view.active + view.starting;
    if (this.heldSince === undefined) {
      this.heldSince = now;
      logger.warn({ size, reason }, `holding the pool at ${size} until the queue's figures are back`);
    }
    const tick: Tick = {
      at: now,
      observation: this.lastObservation ?? NOTHING_OBSERVED,
      pool: view,
      decision: { desired: size, recommendation: size, reason: `holding ${size}: ${reason}` },
      promote: [],
      start: 0,
      retire: [],
      changed: false,
      held: reason,
    };
    this.options.onTick?.(tick);
    return tick;
  }
}
