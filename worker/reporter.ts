import { REPORT_WAKE_CHECK_MS, type WorkerReport } from '../infra/worker-report.js';
import { workerReportKey, type RedisClient } from '../infra/redis.js';
import type { WorkerStats } from './worker.js';

/**
 * Publishes the worker's counters to Redis every interval, under a key that
 * expires after three missed intervals: a dead worker's report disappears by
 * itself. A new worker reports its first finished request at once (within
 * REPORT_WAKE_CHECK_MS), not at its next interval. Failures are ignored here
 * (the Redis client logs outages once).
 */
export class WorkerReporter {
  private timer: NodeJS.Timeout | undefined;
  private wakeTimer: NodeJS.Timeout | undefined;
  private readonly startedAt = Date.now();
  private readonly key: string;
  /** Whether the last report showed no finished request yet: the dispatcher has no service time from this worker. */
  private firstFinishPending = true;

  constructor(
    private readonly redis: RedisClient,
    namespace: string,
    private readonly workerId: string,
    private readonly stats: () => WorkerStats,
    private readonly intervalMs: number,
  ) {
    this.key = workerReportKey(namespace, workerId);
  }

  start(): void {
    void this.report();
    this.timer = setInterval(() => void this.report(), this.intervalMs);
    this.timer.unref();
    if (this.intervalMs > REPORT_WAKE_CHECK_MS) {
      this.wakeTimer = setInterval(() => this.reportFirstFinish(), REPORT_WAKE_CHECK_MS);
      this.wakeTimer.unref();
    }
  }

  async report(): Promise<void> {
    const stats = this.stats();
    this.firstFinishPending = stats.processed + stats.failed === 0;
    const report: WorkerReport = { ...stats, workerId: this.workerId, startedAt: this.startedAt, reportedAt: Date.now() };
    const ttlMs = this.intervalMs * 3;
    await this.redis.set(this.key, JSON.stringify(report), 'PX', ttlMs).catch(() => undefined);
  }

  /** One stats read every REPORT_WAKE_CHECK_MS until the worker's first request has finished and been reported. */
  private reportFirstFinish(): void {
    if (!this.firstFinishPending) {
      clearInterval(this.wakeTimer);
      return;
    }
    const stats = this.stats();
    if (stats.processed + stats.failed > 0) void this.report();
  }

  private closeOnce: Promise<void> | undefined;

  /** Same promise on every call. */
  close(): Promise<void> {
    this.closeOnce ??= (async () => {
      clearInterval(this.timer);
      clearInterval(this.wakeTimer);
      await this.redis.del(this.key).catch(() => undefined);
      await this.redis.quit().catch(() => this.redis.disconnect());
    })();
    return this.closeOnce;
  }
}
