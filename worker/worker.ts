import { EventEmitter } from 'node:events';
import type { Logger } from '../infra/log.js';
import type { ControlMessage } from '../infra/protocol.js';
import type { WorkerReport } from '../infra/worker-report.js';
import type { IncomingMessage, RequestConsumer, RequestResult } from '../infra/transport/types.js';
import type { JobHandlers } from './jobs.js';
import type { WorkerRole } from '../infra/worker-role.js';
import { cancelAfterMs } from './cancellation.js';
import { RequestRunner } from './request-runner.js';

export { isLastAttempt } from './request-runner.js';
export { CONSUMER_PRIORITY } from '../infra/transport/rabbitmq/consumer.js';

export interface WorkerOptions {
  workerId: string;
  /** Its transport, not started yet (infra/transport/factory.ts createConsumer): the worker starts and closes it. */
  consumer: RequestConsumer;
  /** Must be the consumer's: a request on its last delivery is dead-lettered rather than requeued. */
  deliveryLimit: number;
  maxBodyBytes: number;
  /** A spare consumes at a low priority (RabbitMQ) or a concurrency of 1 (BullMQ), so it mostly takes overflow. */
  role: WorkerRole;
  handlers: JobHandlers;
  logger: Logger;
  /** How long its runtime lets it drain; what still runs near the end is cancelled (worker/cancellation.ts). 0 or none: no limit. */
  drainGraceMs?: number;
}

export type { WorkerRole };
/** What the worker says about itself: a worker report without ids and times. */
export type WorkerStats = Omit<WorkerReport, 'workerId' | 'startedAt' | 'reportedAt'>;

/**
 * Takes requests from its transport, runs them (RequestRunner) and returns
 * each result to the transport, which settles it: on RabbitMQ, reply, then ack
 * (see RabbitConsumer.settle); on BullMQ, complete or fail the job. Shuts down
 * in order on close(): stop consuming, wait for in-flight jobs, then close
 * the consumer, which first waits for the results it is still settling. Emits 'closed' once,
 * whatever asked it to stop (SIGTERM, a drain or quit control message), and
 * 'promoted' when a spare has become a regular worker.
 */
export class Worker extends EventEmitter {
  private readonly consumer: RequestConsumer;
  private readonly runner: RequestRunner;
  /** Requests whose job is still running. (A synchronous job's result is returned at once: never counted.) */
  private readonly inFlight = new Set<Promise<RequestResult>>();
  private starting: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private role: WorkerRole;

  constructor(private readonly options: WorkerOptions) {
    super();
    this.role = options.role;
    this.consumer = options.consumer;
    this.runner = new RequestRunner({ ...options, messaging: options.consumer.messaging });
  }

  get id(): string {
    return this.options.workerId;
  }

  stats(): WorkerStats {
    return {
      ...this.runner.counters,
      role: this.role,
      state: this.closing ? 'draining' : 'active',
      inFlight: this.inFlight.size,
      waitBuckets: [...this.runner.waitBuckets],
    };
  }

  /** Whether close() has been called: the worker takes no more work. */
  get draining(): boolean {
    return this.closing !== undefined;
  }

  /**
   * Connects and consumes. A close() that comes meanwhile (a drain while the
   * worker boots) cancels the start: start() then resolves, nothing consumes,
   * and close() has closed whatever the start had opened.
   */
  async start(): Promise<void> {
    if (this.closing) return;
    this.starting = this.consumer.start(this.role, {
      deliver: (message) => this.deliver(message),
      onControl: (message) => this.onControl(message),
    });
    try {
      await this.starting;
    } catch (err) {
      if (this.closing) return; // cancelled by close(): no failure
      throw err;
    }
    if (this.closing) return;
    this.options.logger.info({ queue: this.consumer.messaging.destination, transport: this.consumer.messaging.system }, 'worker consuming');
  }

  /** Stops taking work, finishes what it holds, and closes. Same promise on every call. */
  close(reason = 'close'): Promise<void> {
    this.closing ??= this.drainAndClose(reason);
    return this.closing;
  }

  /**
   * A synchronous job's result goes straight back to the consumer. A throw or
   * a rejection (the runner answers every failure it knows of) is the
   * consumer's to requeue.
   */
  private deliver(message: IncomingMessage): RequestResult | Promise<RequestResult> {
    const result = this.runner.run(message, Date.now());
    if (typeof (result as Partial<Promise<RequestResult>>).then === 'function') {
      const pending = result as Promise<RequestResult>;
      this.inFlight.add(pending);
      const done = () => this.inFlight.delete(pending);
      pending.then(done, done);
    }
    return result;
  }

  private onControl(control: ControlMessage): void {
    if (control.type === 'cancel') {
      // Broadcast to every worker of the pool: most do not hold it.
      const running = this.runner.cancellations.cancel(control.messageId);
      if (running) this.options.logger.info({ messageId: control.messageId }, 'the caller cancelled a running job');
      return;
    }
    this.options.logger.info({ control: control.type }, 'control message');
    if (control.type === 'promote') void this.promote();
    else void this.close(control.type);
  }

  /** A spare becomes a regular worker. The jobs it holds finish and settle as usual. */
  private async promote(): Promise<void> {
    if (this.role === 'worker' || this.closing) return;
    this.role = 'worker';
    await this.consumer.promote();
    this.options.logger.info('promoted from spare to worker');
    this.emit('promoted');
  }

  private async drainAndClose(reason: string): Promise<void> {
    const { logger } = this.options;
    logger.info({ reason, inFlight: this.inFlight.size }, 'draining');
    const graceMs = this.options.drainGraceMs ?? 0;
    const cancelTimer = graceMs > 0 ? setTimeout(() => {
      const cancelled = this.runner.cancellations.cancelAll();
      if (cancelled > 0) logger.warn({ cancelled }, 'the drain grace is running out: cancelling the jobs still running');
    }, cancelAfterMs(graceMs)) : undefined;
    await this.consumer.stopConsuming();
    // A start under way settles first (stopConsuming made it take no work, or cancelled
    // it), so that what it opened is closed below; deliveries it let in are waited for.
    await this.starting?.catch(() => undefined);
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight.values()]);
    clearTimeout(cancelTimer);
    this.runner.cancellations.stop();
    await this.consumer.close();
    logger.info({ processed: this.runner.counters.processed, failed: this.runner.counters.failed }, 'worker closed');
    this.emit('closed', reason);
  }
}
