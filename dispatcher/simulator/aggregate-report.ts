import type { WorkerReport } from '../../infra/worker-report.js';
import { bucketIndex, emptyBuckets } from '../../infra/wait-histogram.js';

/**
 * The simulated pool's worker reports, summed into one: the same cumulative
 * counters a live worker writes to Redis (completions, service time, wait
 * histogram, in flight), published every report interval. The observation
 * window works on differences between reports, so one report for the whole
 * pool gives it the same figures as one per worker would, at a fraction of
 * the cost of thousands of simulated workers.
 */
export class AggregateReport {
  private processed = 0;
  private serviceMsTotal = 0;
  private readonly waitBuckets = emptyBuckets();
  private snapshot: WorkerReport = this.build(0, 0);
  /** Whether the early report of the first completion has been scheduled. */
  private wakeSent = false;

  /** The report as last published: what the dispatcher can read now. */
  get latest(): WorkerReport {
    return this.snapshot;
  }

  started(waitMs: number): void {
    this.waitBuckets[bucketIndex(waitMs)]!++;
  }

  completed(serviceMs: number): void {
    this.processed++;
    this.serviceMsTotal += serviceMs;
  }

  /**
   * Whether a completion now has the pool's report published early: the pool's
   * first, as worker/reporter.ts reports a worker's first finished request at
   * once. Once.
   */
  wakes(): boolean {
    if (this.snapshot.processed > 0 || this.wakeSent) return false;
    this.wakeSent = true;
    return true;
  }

  publish(now: number, inFlight: number): void {
    this.snapshot = this.build(now, inFlight);
  }

  private build(now: number, inFlight: number): WorkerReport {
    return {
      workerId: 'simulated-pool',
      role: 'worker',
      state: 'active',
      inFlight,
      processed: this.processed,
      failed: 0,
      redelivered: 0,
      serviceMsTotal: this.serviceMsTotal,
      waitBuckets: [...this.waitBuckets],
      startedAt: 0,
      reportedAt: now,
    };
  }
}
