import { UnrecoverableError, Worker as BullWorker, type Job } from 'bullmq';
import { ShoalError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { ConsumerCallbacks, RequestConsumer, RequestResult } from '../types.js';
import type { WorkerRole } from '../../worker-role.js';
import { subscribeControl, type ControlSubscription } from './control.js';
import { bullConnection, QUEUE_NAME, queuePrefix, waitForRedis } from './connection.js';
import { jobToMessage, type RequestJobData } from './job-message.js';
import { startReplySpan, type MessagingTarget, type PublishTrace } from '../../tracing.js';

/** BullMQ's stalled-job settings: how fast the job of a dead worker goes back to the queue. */
export interface BullmqWorkerSettings {
  /** A job's lock lives this long unless its worker renews it (every half of it). */
  lockDurationMs: number;
  /** How often workers look for jobs whose lock has expired. */
  stalledIntervalMs: number;
  /** A job that stalls more often than this is failed instead of run again. */
  maxStalledCount: number;
}

export const DEFAULT_BULLMQ_WORKER: BullmqWorkerSettings = { lockDurationMs: 30_000, stalledIntervalMs: 30_000, maxStalledCount: 1 };

export interface BullmqConsumerOptions {
  workerId: string;
  namespace: string;
  redisUrl: string;
  concurrency: number;
  settings: BullmqWorkerSettings;
  logger: Logger;
}

/**
 * A spare runs one job at a time until it is promoted: BullMQ has no consumer
 * priorities (every worker pulls), so a spare cannot wait for overflow; at a
 * concurrency of 1 it takes a small share, and is warm, connected and ready.
 */
const SPARE_CONCURRENCY = 1;

/**
 * A worker's BullMQ side: a BullMQ Worker on the pool's queue whose processor
 * runs each job through shoal's request handling. The reply is the job's
 * outcome: completed with the reply as its return value, or failed with the
 * error reply as its reason (no retry: the failed set is the dead-letter
 * queue). A requeue is a retryable failure, bounded by the job's `attempts`.
 * Control messages come over Redis pub/sub.
 */
export class BullmqConsumer implements RequestConsumer {
  private worker: BullWorker<RequestJobData> | undefined;
  private control: ControlSubscription | undefined;
  private starting: Promise<void> | undefined;
  private stopped = false;
  /** Reply spans (when traced) of jobs whose outcome BullMQ is writing: they end when the worker says it has. */
  private readonly replySpans = new Map<string, PublishTrace>();
  private readonly tracing: MessagingTarget;

  constructor(private readonly options: BullmqConsumerOptions, private readonly callbacks: ConsumerCallbacks) {
    this.tracing = { system: 'bullmq', destination: `${queuePrefix(options.namespace)}:${QUEUE_NAME}` };
  }

  /**
   * A drain may come at any step of the start: each step looks at `stopped`,
   * and the BullMQ Worker fetches jobs (run()) only if none has come. close()
   * waits for the start to settle, then closes what it opened.
   */
  start(role: WorkerRole): Promise<void> {
    this.starting ??= this.connect(role);
    return this.starting;
  }

  private async connect(role: WorkerRole): Promise<void> {
    const { workerId, namespace, redisUrl, settings, logger } = this.options;
    if (this.stopped) return;
    if (!(await waitForRedis(redisUrl, `shoal worker ${workerId} check`, logger, () => this.stopped))) return;
    this.control = await subscribeControl(redisUrl, namespace, `shoal worker ${workerId} control`, workerId, this.callbacks.onControl, logger);
    if (this.stopped) return;
    try {
      this.worker = new BullWorker<RequestJobData>(QUEUE_NAME, (job) => this.process(job), {
        autorun: false,
        connection: bullConnection(redisUrl, `shoal worker ${workerId}`),
        prefix: queuePrefix(namespace),
        name: workerId,
        concurrency: role === 'spare' ? SPARE_CONCURRENCY : this.options.concurrency,
        lockDuration: settings.lockDurationMs,
        stalledInterval: settings.stalledIntervalMs,
        maxStalledCount: settings.maxStalledCount,
      });
      this.worker.on('error', (err: Error) => logger.warn({ err: err.message }, 'BullMQ worker error'));
      this.worker.on('completed', (job: Job) => this.endReplySpan(job.id));
      this.worker.on('failed', (job: Job | undefined) => this.endReplySpan(job?.id));
      await this.worker.waitUntilReady();
      if (this.stopped) return;
      const worker = this.worker;
      worker.run().catch((err: Error) => worker.emit('error', err));
    } catch (err) {
      // An open connection would keep the failed process alive.
      await this.worker?.close(true).catch(() => undefined);
      await this.control.close();
      this.worker = undefined;
      this.control = undefined;
      throw err;
    }
  }

  private async process(job: Job<RequestJobData>): Promise<unknown> {
    let result: RequestResult | undefined;
    await this.callbacks.deliver(jobToMessage(job), async (r) => {
      result = r;
    });
    if (!result) throw new ShoalError('NOT_SETTLED', 'the request was not settled');
    // The reply is the job's outcome, which BullMQ writes once this returns: its span ends at the worker's event.
    const trace = result.trace && result.reply && job.id !== undefined ? startReplySpan(result.trace.parent, this.tracing, result.reply.correlationId, result.trace.job, false) : undefined;
    if (trace) this.replySpans.set(job.id!, trace);
    switch (result.settle) {
      case 'ack':
        // BullMQ stores it as JSON; the runner has checked that it serializes.
        return result.reply?.body ?? null;
      case 'requeue':
        // A plain error: BullMQ runs it again while attempts remain.
        throw new ShoalError('REQUEUED', 'requeued for another attempt');
      case 'dead-letter':
        // The caller reads the error reply from the failure reason.
        throw new UnrecoverableError(result.reply ? result.reply.encoded.toString('utf8') : 'expired before it ran: the caller had stopped waiting');
    }
  }

  private endReplySpan(jobId: string | undefined): void {
    if (jobId === undefined || this.replySpans.size === 0) return;
    this.replySpans.get(jobId)?.end();
    this.replySpans.delete(jobId);
  }

  async promote(): Promise<void> {
    if (this.worker) this.worker.concurrency = this.options.concurrency;
  }

  async stopConsuming(): Promise<void> {
    this.stopped = true;
    // Fetch nothing more; the jobs it holds still run and complete.
    await this.worker?.pause(true);
  }

  private closeOnce: Promise<void> | undefined;

  /** Same promise on every call. */
  close(): Promise<void> {
    this.closeOnce ??= (async () => {
      this.stopped = true;
      await this.starting?.catch(() => undefined);
      await this.worker?.close();
      await this.control?.close();
      for (const trace of this.replySpans.values()) trace.end(new ShoalError('NOT_SETTLED', 'the worker closed before BullMQ reported the outcome'));
      this.replySpans.clear();
    })();
    return this.closeOnce;
  }
}
