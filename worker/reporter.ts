import type { WorkerReport } from '../infra/worker-report.js';
import { workerReportKey, type RedisClient } from '../infra/redis.js';
import type { WorkerStats } from './worker.js';

/**
 * Publishes the worker's counters to Redis every interval, under a key that
 * expires after three missed intervals: a dead worker's report disappears by
 * itself. Failures are ignored here (the Redis client logs outages once).
 */
export class WorkerReporter {
  private timer: NodeJS.Timeout | undefined;
  private readonly startedAt = Date.now();
  private readonly key: string;

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
  }

  async report(): Promise<void> {
    const report: WorkerReport = { ...this.stats(), workerId: this.workerId, startedAt: this.startedAt, reportedAt: Date.now() };
    const ttlMs = this.intervalMs * 3;
    await this.redis.set(this.key, JSON.stringify(report), 'PX', ttlMs).catch(() => undefined);
  }

  private closeOnce: Promise<void> | undefined;

  /** Same promise on every call. */
  close(): Promise<void> {
    this.closeOnce ??= (async () => {
      clearInterval(this.timer);
      await this.redis.del(this.key).catch(() => undefined);
      await this.redis.quit().catch(() => this.redis.disconnect());
    })();
    return this.closeOnce;
  }
}
