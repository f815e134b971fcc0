import type { Redis } from 'ioredis';
import { errorMessage } from '../../infra/errors.js';
import type { Logger } from '../../infra/log.js';
import { workerReportSchema, type WorkerReport } from '../../infra/protocol.js';
import { workerReportKey } from '../../infra/redis.js';
import type { MetricsSource, QueueSample, Sample } from './types.js';

export interface BrokerMetricsOptions {
  namespace: string;
  queue: string;
  /** e.g. http://guest:guest@127.0.0.1:15672; undefined to use the passive declare alone. */
  managementUrl: string | undefined;
  /** A passive declare: fresh, but it only knows ready messages and consumers. */
  queueDepth: () => Promise<{ ready: number; consumers: number }>;
  /** Undefined runs on broker metrics alone. */
  redis: Redis | undefined;
  logger: Logger;
}

/**
 * Samples the broker and the worker reports. The ready count and consumers
 * come from a passive declare (the management API's figures lag by up to its
 * 5 s statistics interval); unacked and the publish rate from the management
 * API when it answers. Each source that fails is warned about once, and the
 * dispatcher carries on with the others.
 */
export class BrokerMetricsSource implements MetricsSource {
  private readonly degraded = new Set<string>();

  constructor(private readonly options: BrokerMetricsOptions) {}

  async sample(now: number): Promise<Sample> {
    const [queue, reports] = await Promise.all([this.queueSample(), this.workerReports()]);
    return { at: now, queue, reports };
  }

  private async queueSample(): Promise<QueueSample> {
    const [passive, management] = await Promise.all([
      this.guard('passive declare', () => this.options.queueDepth()),
      this.options.managementUrl ? this.guard('management API', () => this.management()) : Promise.resolve(undefined),
    ]);
    return {
      ready: passive?.ready ?? management?.ready ?? 0,
      unacked: management?.unacked,
      consumers: passive?.consumers ?? management?.consumers ?? 0,
      publishRate: management?.publishRate,
      source: management ? 'management' : 'passive',
    };
  }

  private async management(): Promise<{ ready: number; unacked: number; consumers: number; publishRate: number | undefined }> {
    const base = new URL(this.options.managementUrl!);
    const auth = Buffer.from(`${decodeURIComponent(base.username)}:${decodeURIComponent(base.password)}`).toString('base64');
    const url = `${base.origin}/api/queues/%2F/${encodeURIComponent(this.options.queue)}`;
    const response = await fetch(url, { headers: { authorization: `Basic ${auth}` }, signal: AbortSignal.timeout(1000) });
    if (!response.ok) throw new Error(`HTTP ${response.status} from ${url}`);
    const body = (await response.json()) as {
      messages_ready?: number;
      messages_unacknowledged?: number;
      consumers?: number;
      message_stats?: { publish_details?: { rate?: number } };
    };
    return {
      ready: body.messages_ready ?? 0,
      unacked: body.messages_unacknowledged ?? 0,
      consumers: body.consumers ?? 0,
      publishRate: body.message_stats?.publish_details?.rate,
    };
  }

  private async workerReports(): Promise<WorkerReport[] | undefined> {
    const { redis, namespace } = this.options;
    if (!redis) return undefined;
    return this.guard('worker reports in Redis', async () => {
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
      if (unreadable > 0 && !this.degraded.has('report schema')) {
        this.degraded.add('report schema');
        this.options.logger.warn({ unreadable }, 'some worker reports do not match this dispatcher; is the worker image older than the dispatcher? (npm run image)');
      }
      return reports;
    });
  }

  /** Runs one source; on failure warns once (until it recovers) and gives undefined. */
  private async guard<T>(what: string, read: () => Promise<T>): Promise<T | undefined> {
    try {
      const value = await read();
      if (this.degraded.delete(what)) this.options.logger.info({ source: what }, 'metrics source is back');
      return value;
    } catch (err) {
      if (!this.degraded.has(what)) this.options.logger.warn({ source: what, err: errorMessage(err) }, 'metrics source unavailable; scaling on the others');
      this.degraded.add(what);
      return undefined;
    }
  }

}
