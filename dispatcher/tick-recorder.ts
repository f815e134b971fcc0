import type { Tick } from './autoscaler.js';
import type { HistoryPoint } from './live-page.js';
import type { Member } from './pool.js';
import type { DispatcherMetrics } from './prometheus.js';
import type { PoolStatus } from '../infra/pool-status.js';
import type { StatusStore } from './status-store.js';

/** Ten minutes of the live page at the default 250 ms interval. */
const LIVE_HISTORY_TICKS = 2400;
/** Decisions kept in the status that `shoal-status` prints. */
const RECENT_DECISIONS = 20;

/** The pool's settings that the status repeats on every tick. */
export type StatusSettings = Pick<PoolStatus, 'namespace' | 'policy' | 'targetWaitP95Ms' | 'min' | 'max' | 'spares' | 'runtime'>;

/**
 * What each scaling tick leaves behind for people: the Prometheus gauges, the
 * status in Redis (`shoal-status`), the decision events (the producer's
 * report reads them) and the live page's history. Losing any of these loses
 * only the view, never scaling.
 */
export class TickRecorder {
  private latest: PoolStatus | undefined;
  private readonly history: HistoryPoint[] = [];
  private readonly decisions: PoolStatus['decisions'] = [];

  constructor(private readonly options: {
    settings: StatusSettings;
    members: () => Member[];
    prometheus: DispatcherMetrics;
    store: StatusStore | undefined;
  }) {}

  record(tick: Tick): void {
    const members = this.options.members();
    this.options.prometheus.record(tick, members);
    if (tick.changed) {
      this.decisions.unshift({ at: tick.at, reason: tick.decision.reason });
      this.decisions.splice(RECENT_DECISIONS);
      void this.options.store?.appendEvent({ at: tick.at, type: 'decision', from: tick.pool.active + tick.pool.starting, to: tick.decision.desired, reason: tick.decision.reason });
    }
    this.remember(tick, members);
    this.latest = { at: tick.at, ...this.options.settings, observation: tick.observation, desired: tick.decision.desired, members, decisions: this.decisions };
    void this.options.store?.writeStatus(this.latest);
  }

  /** What the live page polls: the latest status and the recent history. */
  live(): { status: PoolStatus | undefined; history: HistoryPoint[] } {
    return { status: this.latest, history: this.history };
  }

  private remember(tick: Tick, members: Member[]): void {
    const counts = { regular: 0, spares: 0, draining: 0 };
    for (const m of members) counts[m.state === 'draining' ? 'draining' : m.role === 'spare' ? 'spares' : 'regular']++;
    const { observation } = tick;
    this.history.push({ at: tick.at, ...counts, desired: tick.decision.desired, backlog: observation.backlog, arrivalRate: observation.arrivalRate, waitP95Ms: observation.waitP95Ms ?? null });
    if (this.history.length > LIVE_HISTORY_TICKS) this.history.shift();
  }
}
