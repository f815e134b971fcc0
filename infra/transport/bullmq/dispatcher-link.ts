import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { ShoalError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { ControlMessage } from '../../protocol.js';
import { SourceGuard } from '../../source-guard.js';
import type { DispatcherLink, QueueDepth } from '../types.js';
import { publishControl, subscribeControl, type ControlSubscription } from './control.js';
import { QUEUE_NAME, queueOptions, redisConnection, withRedisOnce } from './connection.js';

/** A depth read that takes longer than this counts as failed (Redis hangs, or has gone). */
const DEPTH_TIMEOUT_MS = 1000;

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ShoalError('REDIS_TIMEOUT', `${what}: no answer from Redis within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export interface BullmqDispatcherLinkOptions {
  redisUrl: string;
  namespace: string;
  logger: Logger;
  onQuit: () => void;
}

/**
 * The dispatcher's BullMQ side: the queue depth from the job counts, control
 * messages out and `quit` in over Redis pub/sub.
 *
 * Mapping to the dispatcher's QueueSample: ready = waiting + prioritized +
 * delayed (retries waiting for their backoff); unacked = active (held
 * by a worker); consumers = BullMQ workers connected (CLIENT LIST); no publish
 * rate (arrivals come from the worker reports, as on RabbitMQ).
 */
export class BullmqDispatcherLink implements DispatcherLink {
  private constructor(
    private readonly queue: Queue,
    private readonly publisher: Redis,
    private readonly control: ControlSubscription,
    private readonly namespace: string,
    /** Warns once while the count of workers cannot be read: the job counts still are. */
    private readonly guard: SourceGuard,
  ) {}

  private reading: Promise<QueueDepth> | undefined;

  static async connect(options: BullmqDispatcherLinkOptions): Promise<BullmqDispatcherLink> {
    const { redisUrl, namespace, logger } = options;
    await withRedisOnce(redisUrl, `shoal dispatcher ${namespace} check`, (redis) => redis.ping());
    const queue = new Queue(QUEUE_NAME, queueOptions(redisUrl, namespace, `shoal dispatcher ${namespace}`));
    queue.on('error', (err: Error) => logger.debug({ err: err.message }, 'BullMQ queue error'));
    let publisher: Redis | undefined;
    try {
      await queue.waitUntilReady();
      publisher = new Redis({ ...redisConnection(redisUrl, `shoal dispatcher ${namespace} control`), maxRetriesPerRequest: 1 });
      publisher.on('error', (err: Error) => logger.debug({ err: err.message }, 'control publisher error'));
      const control = await subscribeControl(redisUrl, namespace, `shoal dispatcher ${namespace} quit`, undefined, (m) => m.type === 'quit' && options.onQuit(), logger);
      return new BullmqDispatcherLink(queue, publisher, control, namespace, new SourceGuard(logger));
    } catch (err) {
      // Open connections would keep the failed dispatcher alive.
      publisher?.disconnect();
      await queue.close().catch(() => undefined);
      throw err;
    }
  }

  /**
   * Fails while Redis is away: BullMQ's connection would queue the commands
   * until it is back (the tick would hang), and a reply of zeros would read as
   * an empty queue. A read still waiting from an earlier tick (Redis went
   * while it ran) is waited on again rather than sent twice.
   */
  async queueDepth(): Promise<QueueDepth> {
    const redis = (await this.queue.getBackend().client) as unknown as { status: string };
    if (redis.status !== 'ready') throw new ShoalError('REDIS_UNREACHABLE', `Redis is not connected (${redis.status})`);
    if (!this.reading) {
      this.reading = this.readDepth().finally(() => (this.reading = undefined));
      this.reading.catch(() => undefined); // a read given up on by its tick may still fail later
    }
    return withTimeout(this.reading, DEPTH_TIMEOUT_MS, 'BullMQ job counts');
  }

  private async readDepth(): Promise<QueueDepth> {
    const [counts, consumers] = await Promise.all([
      this.queue.getJobCounts('wait', 'prioritized', 'delayed', 'active'),
      this.guard.run('BullMQ workers (CLIENT LIST)', () => this.queue.getWorkersCount()),
    ]);
    const n = (key: string) => counts[key] ?? 0;
    return { ready: n('wait') + n('prioritized') + n('delayed'), unacked: n('active'), consumers: consumers ?? 0, publishRate: undefined, source: 'bullmq' };
  }

  async send(message: ControlMessage): Promise<boolean> {
    return (await publishControl(this.publisher, this.namespace, message)).routed;
  }

  private closeOnce: Promise<void> | undefined;

  /** Same promise on every call. */
  close(): Promise<void> {
    this.closeOnce ??= (async () => {
      await this.control.close();
      await this.publisher.quit().catch(() => this.publisher.disconnect());
      await this.queue.close().catch(() => undefined);
    })();
    return this.closeOnce;
  }
}
