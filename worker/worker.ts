import { EventEmitter } from 'node:events';
import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage, RecoveringChannelModel } from 'amqplib';
import { connectBroker } from '../infra/amqp/connection.js';
import { assertTopology } from '../infra/amqp/topology.js';
import { BoundedSet } from '../infra/bounded-set.js';
import { errorCode, errorMessage, TransientJobError } from '../infra/errors.js';
import type { Logger } from '../infra/log.js';
import {
  decodeControl,
  decodeRequest,
  encodeReply,
  HEADER_VERSION,
  PROTOCOL_VERSION,
  QUIT_ROUTING_KEY,
  type Reply,
  type Topology,
  type WorkerReport,
  workerRoutingPattern,
} from '../infra/protocol.js';
import { bucketIndex, emptyBuckets } from '../infra/wait-histogram.js';
import type { JobHandlers } from './jobs.js';

export interface WorkerOptions {
  workerId: string;
  amqpUrl: string;
  topology: Topology;
  deliveryLimit: number;
  /** Benchmarks only (see TopologyOptions); quorum by default. */
  queueType?: 'quorum' | 'classic';
  /** Jobs run at once; also the prefetch, so the broker never hands over more. */
  concurrency: number;
  maxBodyBytes: number;
  /** A spare consumes at a low priority, so the broker only hands it overflow. */
  role: WorkerRole;
  handlers: JobHandlers;
  logger: Logger;
}

export type WorkerRole = 'worker' | 'spare';
/** What the worker says about itself: a worker report without ids and times. */
export type WorkerStats = Omit<WorkerReport, 'workerId' | 'startedAt' | 'reportedAt'>;

/**
 * Consumer priorities (x-priority): RabbitMQ gives a low-priority consumer
 * messages only while every higher-priority consumer is at its prefetch limit.
 */
export const CONSUMER_PRIORITY: Record<WorkerRole, number> = { worker: 10, spare: 0 };

type Outcome = 'ack' | 'requeue' | 'dead-letter';

/**
 * The deadline comes from the producer's clock. The broker's own expiration is
 * exact; this check only stops work nobody waits for, so it allows for some
 * clock skew between hosts.
 */
const EXPIRY_GRACE_MS = 1000;

/**
 * Consumes requests from the pool's queue, runs the job, publishes the reply,
 * and only then acks (see publishReply for how the reply is made safe). Shuts down in order on
 * close(): cancel the consumer, wait for in-flight jobs, close the channel,
 * close the connection. Emits 'closed' once, whatever asked it to stop
 * (SIGTERM, a drain or quit control message), and 'promoted' when a spare
 * has become a regular worker.
 */
export class Worker extends EventEmitter {
  private connection: RecoveringChannelModel | undefined;
  private model: ChannelModel | undefined;
  /** Consumes requests and settles them. */
  private channel: Channel | undefined;
  /** The request consumer's tag on `channel`, once it consumes. */
  private activeTag: string | undefined;
  /**
   * Replies go out on their own confirm channel: a reply to a malformed
   * direct reply-to address makes the broker close the channel it was
   * published on, and that must not take the consumer and its jobs with it.
   */
  private replyChannel: ConfirmChannel | undefined;
  /** Reply addresses the broker has confirmed a reply to (one per caller channel): see publishReply. */
  private readonly provenReplyAddresses = new BoundedSet<string>(1024);
  private readonly inFlight = new Set<Promise<void>>();
  private closing: Promise<void> | undefined;
  private readonly counters = { processed: 0, failed: 0, redelivered: 0, serviceMsTotal: 0 };
  private readonly waitBuckets = emptyBuckets();
  private role: WorkerRole;

  constructor(private readonly options: WorkerOptions) {
    super();
    this.role = options.role;
  }

  get id(): string {
    return this.options.workerId;
  }

  stats(): WorkerStats {
    return {
      ...this.counters,
      role: this.role,
      state: this.closing ? 'draining' : 'active',
      inFlight: this.inFlight.size,
      waitBuckets: [...this.waitBuckets],
    };
  }

  async start(): Promise<void> {
    this.connection = await connectBroker({
      url: this.options.amqpUrl,
      name: `shoal worker ${this.id}`,
      logger: this.options.logger,
      setup: (model) => this.setup(model),
    });
    this.options.logger.info({ concurrency: this.options.concurrency, queue: this.options.topology.requestQueue }, 'worker consuming');
  }

  /** Stops taking work, finishes what it holds, and closes. Same promise on every call. */
  close(reason = 'close'): Promise<void> {
    this.closing ??= this.drainAndClose(reason);
    return this.closing;
  }

  /** Runs after every (re)connect: the old channel and its deliveries are gone. */
  private async setup(model: ChannelModel): Promise<void> {
    if (this.closing) return;
    const { topology, workerId } = this.options;
    this.model = model;
    this.activeTag = undefined;
    const channel = await model.createChannel();
    channel.on('error', (err: Error) => this.options.logger.warn({ err: err.message }, 'channel error'));
    channel.on('close', () => {
      if (this.channel !== channel) return;
      this.channel = undefined;
      // A channel can die alone (e.g. a broker-side error). Reconnecting the
      // whole connection re-runs this setup, which is the one recovery path.
      if (!this.closing) model.close().catch(() => undefined);
    });
    await assertTopology(channel, topology, { deliveryLimit: this.options.deliveryLimit, queueType: this.options.queueType });
    await channel.prefetch(this.options.concurrency);

    const control = await channel.assertQueue('', { exclusive: true, autoDelete: true });
    await channel.bindQueue(control.queue, topology.controlExchange, QUIT_ROUTING_KEY);
    await channel.bindQueue(control.queue, topology.controlExchange, workerRoutingPattern(workerId));
    await channel.consume(control.queue, (msg) => msg && this.onControl(msg), { noAck: true, consumerTag: `${workerId}.control` });
    await this.openReplyChannel(model);
    if (this.closing) return; // a drain began while we connected: take no work
    this.channel = channel;
    await this.consumeRequests(channel);
  }

  private async openReplyChannel(model: ChannelModel): Promise<ConfirmChannel> {
    const replies = await model.createConfirmChannel();
    replies.on('error', (err: Error) => this.options.logger.warn({ err: err.message }, 'reply channel closed by the broker; opening another'));
    replies.on('close', () => {
      if (this.replyChannel === replies) this.replyChannel = undefined;
    });
    this.replyChannel = replies;
    return replies;
  }

  /** The consumer tag shows the role in the management UI, e.g. "worker-1a2b" or "worker-1a2b (spare)". */
  private get consumerTag(): string {
    return this.role === 'spare' ? `${this.id} (spare)` : this.id;
  }

  private async consumeRequests(channel: Channel): Promise<void> {
    const tag = this.consumerTag;
    await channel.consume(this.options.topology.requestQueue, (msg) => this.onDelivery(channel, msg), {
      noAck: false,
      consumerTag: tag,
      priority: CONSUMER_PRIORITY[this.role],
    });
    this.activeTag = tag;
  }

  private onControl(msg: ConsumeMessage): void {
    try {
      const control = decodeControl(msg.content);
      this.options.logger.info({ control: control.type }, 'control message');
      if (control.type === 'promote') void this.promote();
      else void this.close(control.type);
    } catch (err) {
      this.options.logger.warn({ err: errorMessage(err) }, 'ignored a bad control message');
    }
  }

  /**
   * A spare becomes a regular worker: consume again at the regular priority.
   * Cancelling a consumer does not return its unacked messages, so the jobs
   * it holds finish and are acked as usual.
   */
  private async promote(): Promise<void> {
    if (this.role === 'worker' || this.closing) return;
    this.role = 'worker'; // from now on, every (re)connect consumes at the regular priority
    const channel = this.channel;
    const spareTag = this.activeTag;
    try {
      if (channel && spareTag) {
        // A new tag: a quorum queue kept serving the old consumer first when the same tag came back.
        await channel.cancel(spareTag);
        this.activeTag = undefined;
        if (this.closing) return; // a drain began meanwhile: stay cancelled
        await this.consumeRequests(channel);
      }
      this.options.logger.info('promoted from spare to worker');
      this.emit('promoted');
    } catch (err) {
      this.options.logger.warn({ err: errorMessage(err) }, 'promotion interrupted; the reconnect consumes at the regular priority');
    }
  }

  private onDelivery(channel: Channel, msg: ConsumeMessage | null): void {
    if (msg === null) {
      // The broker cancelled us (e.g. the queue was deleted): reconnect and redeclare.
      this.options.logger.warn('consumer cancelled by the broker; reconnecting');
      if (!this.closing) channel.close().catch(() => undefined);
      return;
    }
    const job = this.process(channel, msg).finally(() => this.inFlight.delete(job));
    this.inFlight.add(job);
  }

  private async process(channel: Channel, msg: ConsumeMessage): Promise<void> {
    const receivedAt = Date.now();
    const outcome = await this.handle(channel, msg, receivedAt).catch((err: unknown): Outcome => {
      // Only the reply can fail here (its channel closed): give the request back, to
      // be answered by another delivery. A reply address that always fails runs into
      // the delivery limit and is dead-lettered.
      this.options.logger.debug({ err: errorMessage(err) }, 'could not send a reply; requeueing the request');
      return 'requeue';
    });
    try {
      if (outcome === 'ack') channel.ack(msg);
      else channel.nack(msg, false, outcome === 'requeue');
    } catch (err) {
      this.options.logger.debug({ err: errorMessage(err) }, 'could not settle a delivery; the broker will redeliver it');
    }
  }

  private async handle(channel: Channel, msg: ConsumeMessage, receivedAt: number): Promise<Outcome> {
    const { logger, maxBodyBytes, deliveryLimit } = this.options;
    const decoded = decodeRequest(msg, maxBodyBytes);
    if (!decoded.ok) {
      // A newer protocol version may be served by an upgraded worker: give it a chance.
      if (decoded.code === 'UNSUPPORTED_VERSION' && !isLastAttempt(decoded.deliveryCount, deliveryLimit)) return 'requeue';
      logger.warn({ code: decoded.code, reason: decoded.message }, 'rejected a bad request; dead-lettering it');
      if (decoded.replyTo && decoded.correlationId) {
        await this.publishReply(channel, decoded.replyTo, decoded.correlationId, this.failure(decoded.code, decoded.message, null, 0));
      }
      this.counters.failed++;
      return 'dead-letter';
    }

    const request = decoded.request;
    const queuedMs = request.sentAt === undefined ? null : Math.max(0, receivedAt - request.sentAt);
    if (queuedMs !== null) this.waitBuckets[bucketIndex(queuedMs)]!++;
    const redelivered = request.redelivered || request.deliveryCount > 0;
    if (redelivered) this.counters.redelivered++;
    if (request.deadline !== undefined && receivedAt > request.deadline + EXPIRY_GRACE_MS) {
      // The caller has given up: running it now would be wasted (or harmful) work.
      logger.debug({ messageId: request.messageId }, 'request expired before it ran; dead-lettering it');
      return 'dead-letter';
    }

    const handler = Object.hasOwn(this.options.handlers, request.job) ? this.options.handlers[request.job] : undefined;
    if (!handler) {
      await this.publishReply(channel, request.replyTo, request.correlationId,
        this.failure('UNKNOWN_JOB', `no handler for job "${request.job}"`, queuedMs, 0));
      this.counters.failed++;
      return 'dead-letter';
    }

    const started = performance.now();
    try {
      const result = await handler(request.payload, {
        messageId: request.messageId,
        workerId: this.id,
        deliveryCount: request.deliveryCount,
        redelivered: request.redelivered,
        deadline: request.deadline,
      });
      const serviceMs = performance.now() - started;
      await this.publishReply(channel, request.replyTo, request.correlationId, {
        ok: true,
        result: result ?? null,
        workerId: this.id,
        timings: { queuedMs, serviceMs },
        ...(redelivered ? { redelivered } : {}),
      });
      this.counters.processed++;
      this.counters.serviceMsTotal += serviceMs;
      return 'ack';
    } catch (err) {
      const serviceMs = performance.now() - started;
      if (err instanceof TransientJobError && !isLastAttempt(request.deliveryCount, deliveryLimit)) {
        logger.info({ messageId: request.messageId, err: err.message, deliveryCount: request.deliveryCount }, 'transient job failure; requeueing');
        return 'requeue';
      }
      logger.warn({ messageId: request.messageId, job: request.job, err: errorMessage(err) }, 'job failed; dead-lettering it');
      await this.publishReply(channel, request.replyTo, request.correlationId, this.failure(errorCode(err), errorMessage(err), queuedMs, serviceMs));
      this.counters.failed++;
      return 'dead-letter';
    }
  }

  private failure(code: string, message: string, queuedMs: number | null, serviceMs: number): Reply {
    return { ok: false, error: { code, message }, workerId: this.id, timings: { queuedMs, serviceMs } };
  }

  /**
   * Sends a reply so that the ack which follows it cannot take effect without it.
   *
   * - To an address not seen before: on the reply channel, and resolves once the
   *   broker confirms it. A malformed direct reply-to address makes the broker
   *   close the channel it was published on; that must not take the consumer
   *   and the other jobs it holds with it.
   * - To an address the broker has confirmed a reply to before: on the
   *   consumer's own channel, right away. The broker handles a channel's frames
   *   in order, so by the time it takes the ack it has routed the reply. This
   *   saves a confirm round trip per request while the delivery holds a
   *   prefetch slot (about 20% of the throughput with echo jobs).
   */
  private async publishReply(consumer: Channel, replyTo: string, correlationId: string, reply: Reply): Promise<void> {
    const body = encodeReply(reply);
    const properties = { correlationId, contentType: 'application/json', headers: { [HEADER_VERSION]: PROTOCOL_VERSION } };
    if (this.provenReplyAddresses.has(replyTo)) {
      consumer.publish('', replyTo, body, properties);
      return;
    }
    if (!this.model) throw new Error('not connected');
    const channel = this.replyChannel ?? (await this.openReplyChannel(this.model));
    await new Promise<void>((resolve, reject) => {
      channel.publish('', replyTo, body, properties, (err: unknown) =>
        err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(),
      );
    });
    this.provenReplyAddresses.add(replyTo);
  }

  private async drainAndClose(reason: string): Promise<void> {
    const { logger } = this.options;
    logger.info({ reason, inFlight: this.inFlight.size }, 'draining');
    const channel = this.channel;
    if (channel && this.activeTag) {
      await channel.cancel(this.activeTag).catch(() => undefined);
      this.activeTag = undefined;
    }
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    await this.replyChannel?.close().catch(() => undefined);
    if (channel) await channel.close().catch(() => undefined);
    await this.connection?.close().catch(() => undefined);
    logger.info({ processed: this.counters.processed, failed: this.counters.failed }, 'worker closed');
    this.emit('closed', reason);
  }
}

/**
 * Whether this delivery is the last one the queue allows. A quorum queue with
 * x-delivery-limit N delivers a message N+1 times: it dead-letters it when it
 * comes back with x-delivery-count = N (measured on RabbitMQ 3.10.8).
 */
export function isLastAttempt(deliveryCount: number, deliveryLimit: number): boolean {
  return deliveryCount >= deliveryLimit;
}
