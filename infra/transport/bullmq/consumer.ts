import { UnrecoverableError, Worker as BullWorker, type Job } from 'bullmq';
import { errorMessage, ShoalError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { BullmqWorkerSettings } from '../target.js';
import type { ConsumerCallbacks, RequestConsumer, RequestResult } from '../types.js';
import type { WorkerRole } from '../../worker-role.js';
import { subscribeControl, type ControlSubscription } from './control.js';
import { bullConnection, QUEUE_NAME, queuePrefix, waitForRedis } from './connection.js';
import { jobToMessage, type RequestJobData } from './job-message.js';
import { startReplySpan, type MessagingTarget, type PublishTrace } from '../../tracing.js';

export type { BullmqWorkerSettings };

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
  /** Kept apart from the BullMQ Worker: a promote() that comes before it exists decides the concurrency it is made with. */
  private role: WorkerRole = 'worker';
  private callbacks: ConsumerCallbacks | undefined;
  /** Reply spans (when traced) of jobs whose outcome BullMQ is writing: they end when the worker says it has. */
  private readonly replySpans = new Map<string, PublishTrace>();
  readonly messaging: MessagingTarget;

  constructor(private readonly options: BullmqConsumerOptions) {
    this.messaging = { system: 'bullmq', destination: `${queuePrefix(options.namespace)}:${QUEUE_NAME}` };
  }

  /**
   * A drain may come at any step of the start: each step looks at `stopped`,
   * and the BullMQ Worker fetches jobs (run()) only if none has come. close()
   * waits for the start to settle, then closes what it opened.
   */
  start(role: WorkerRole, callbacks: ConsumerCallbacks): Promise<void> {
    if (!this.starting) {
      this.role = role;
      this.callbacks = callbacks;
      this.starting = this.connect(callbacks);
    }
    return this.starting;
  }

  private async connect(callbacks: ConsumerCallbacks): Promise<void> {
    const { workerId, namespace, redisUrl, settings, logger } = this.options;
    if (this.stopped) return;
    if (!(await waitForRedis(redisUrl, `shoal worker ${workerId} check`, logger, () => this.stopped))) return;
    this.control = await subscribeControl(redisUrl, namespace, `shoal worker ${workerId} control`, workerId, callbacks.onControl, logger);
    if (this.stopped) return;
    try {
      this.worker = new BullWorker<RequestJobData>(QUEUE_NAME, (job) => this.process(job), {
        autorun: false,
        connection: bullConnection(redisUrl, `shoal worker ${workerId}`),
        prefix: queuePrefix(namespace),
        name: workerId,
        concurrency: this.concurrency,
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

  private get concurrency(): number {
    return this.role === 'spare' ? SPARE_CONCURRENCY : this.options.concurrency;
  }

  /**
   * Settles what the worker returns by this function's outcome, which BullMQ
   * writes once it returns; BullMQ's Worker.close() waits for that, so a drain
   * closes nothing before every outcome is written.
   */
  private async process(job: Job<RequestJobData>): Promise<unknown> {
    let result: RequestResult;
    try {
      result = await this.callbacks!.deliver(jobToMessage(job));
    } catch (err) {
      // The worker answers every failure it knows of; anything else must not strand the job.
      this.options.logger.error({ err: errorMessage(err) }, 'request handling failed unexpectedly; requeueing it');
      result = { settle: 'requeue' };
    }
    // The reply is the job's outcome, which BullMQ writes once this returns: its span ends at the worker's event.
    const trace = result.trace && result.reply && job.id !== undefined ? startReplySpan(result.trace.parent, this.messaging, result.reply.correlationId, result.trace.job, false) : undefined;
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
    this.role = 'worker'; // a BullMQ Worker not made yet is made at the full concurrency
    if (this.worker) this.worker.concurrency = this.concurrency;
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
