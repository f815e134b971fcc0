import { errorMessage } from '../../infra/errors.js';
import type { Logger } from '../../infra/log.js';
import { workerReportSchema, type WorkerReport } from '../../infra/worker-report.js';
import { workerReportKey, type RedisClient } from '../../infra/redis.js';
import type { DispatcherLink } from '../../infra/transport/types.js';
import { SourceGuard } from '../../infra/source-guard.js';
import type { MetricsSource, QueueSample, Sample } from './types.js';

export interface PoolMetricsOptions {
  namespace: string;
  /** The request queue's depth comes from the transport (RabbitMQ: passive declare and management API; BullMQ: job counts). */
  link: Pick<DispatcherLink, 'queueDepth'>;
  /** Undefined runs on queue figures alone. */
  redis: RedisClient | undefined;
  logger: Logger;
}

/**
 * Samples the transport's queue and the worker reports in Redis. Each source
 * that fails is warned about once, and the dispatcher carries on with the others.
 */
export class PoolMetricsSource implements MetricsSource {
  private readonly guard: SourceGuard;

  constructor(private readonly options: PoolMetricsOptions) {
    this.guard = new SourceGuard(options.logger);
  }

  async sample(now: number): Promise<Sample> {
    const [queue, reports] = await Promise.all([this.queueSample(), this.workerReports()]);
    return { at: now, ...queue, reports };
  }

  /**
   * The queue's depth, or why it is unknown. Not through the guard (the link
   * guards its own sources): when no source of the depth answers there is
   * nothing to scale on, and the autoscaler says so, once.
   */
  private async queueSample(): Promise<{ queue: QueueSample; blind?: string }> {
    try {
      return { queue: await this.options.link.queueDepth() };
    } catch (err) {
      return { queue: { ready: 0, unacked: undefined, consumers: 0, publishRate: undefined, source: 'passive' }, blind: `queue depth unreadable (${errorMessage(err)})` };
    }
  }

  private async workerReports(): Promise<WorkerReport[] | undefined> {
    const { redis, namespace } = this.options;
    if (!redis) return undefined;
    return this.guard.run('worker reports in Redis', async () => {
      const keys: string[] = [];
      let cursor = '0';
      do {
        const [next, found] = await redis.scan(cursor, 'MATCH', workerReportKey(namespace, '*'), 'COUNT', 500);
        cursor = next;
        keys.push(...found);
      } while (cursor !== '0');
      if (keys.length === 0) return [];
      const values = await redis.mget(...keys);
      const reports = values.flatMap((raw) => {
        const parsed = raw ? workerReportSchema.safeParse(JSON.parse(raw)) : undefined;
        return parsed?.success ? [parsed.data] : [];
      });
      const unreadable = values.filter(Boolean).length - reports.length;
      if (unreadable > 0) {
        this.guard.warnOnce('report schema', 'some worker reports do not match this dispatcher; is the worker image older than the dispatcher? (npm run image)', { unreadable });
      }
      return reports;
    });
  }
}
