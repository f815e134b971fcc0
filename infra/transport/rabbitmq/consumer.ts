import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage, RecoveringChannelModel } from 'amqplib';
import { connectBroker } from '../../amqp/connection.js';
import { BoundedSet } from '../../bounded-set.js';
import { assertTopology, REPLY_TO_DIRECT, type Topology } from '../../amqp/topology.js';
import { errorMessage } from '../../errors.js';
import type { Logger } from '../../log.js';
import { CANCEL_ROUTING_KEY, QUIT_ROUTING_KEY, workerRoutingPattern } from '../../amqp/control.js';
import { decodeControl } from '../../protocol.js';
import type { ConsumerCallbacks, RequestConsumer, RequestResult, Settle } from '../types.js';
import type { WorkerRole } from '../../worker-role.js';
import { startReplySpan, type PublishTrace } from '../../tracing.js';

export interface RabbitConsumerOptions {
  workerId: string;
  amqpUrl: string;
  topology: Topology;
  deliveryLimit: number;
  /** Benchmarks only (see TopologyOptions); quorum by default. */
  queueType?: 'quorum' | 'classic' | undefined;
  /** Jobs run at once; also the prefetch, so the broker never hands over more. */
  concurrency: number;
  logger: Logger;
}

/**
 * Consumer priorities (x-priority): RabbitMQ gives a low-priority consumer
 * messages only while every higher-priority consumer is at its prefetch limit.
 */
export const CONSUMER_PRIORITY: Record<WorkerRole, number> = { worker: 10, spare: 0 };

/** Replies up to this size may take the consumer channel (see settle); larger ones are rare and confirmed. */
const FAST_REPLY_MAX_BYTES = 64 * 1024;

const SETTLED = Promise.resolve();

/**
 * A worker's RabbitMQ side: consumes the request queue with manual acks and a
 * prefetch of its concurrency, publishes each reply, and only then acks (see
 * publishReply for how the reply is made safe). Listens for quit and for control messages
 * addressed to this worker. Reconnects by itself and consumes again.
 */
export class RabbitConsumer implements RequestConsumer {
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
  private replyChannel: Promise<ConfirmChannel> | undefined;
  /** Reply addresses the broker has confirmed a reply to (one per caller channel): see settle. */
  private readonly provenReplyAddresses = new BoundedSet<string>(1024);
  private role: WorkerRole = 'worker';
  private stopped = false;
  /** Cancels a first connect still under way when a drain comes first (see stopConsuming). */
  private readonly connecting = new AbortController();

  constructor(private readonly options: RabbitConsumerOptions, private readonly callbacks: ConsumerCallbacks) {}

  /** Rejects with code CANCELLED when stopConsuming() or close() came before the connection was ready. */
  async start(role: WorkerRole): Promise<void> {
    this.role = role;
    this.connection = await connectBroker({
      url: this.options.amqpUrl,
      name: `shoal worker ${this.options.workerId}`,
      logger: this.options.logger,
      setup: (model) => this.setup(model),
      signal: this.connecting.signal,
    });
  }

  /** Runs after every (re)connect: the old channel and its deliveries are gone. */
  private async setup(model: ChannelModel): Promise<void> {
    if (this.stopped) return;
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
      if (!this.stopped) model.close().catch(() => undefined);
    });
    await assertTopology(channel, topology, { deliveryLimit: this.options.deliveryLimit, queueType: this.options.queueType });
    await channel.prefetch(this.options.concurrency);

    const control = await channel.assertQueue('', { exclusive: true, autoDelete: true });
    await channel.bindQueue(control.queue, topology.controlExchange, QUIT_ROUTING_KEY);
    await channel.bindQueue(control.queue, topology.controlExchange, CANCEL_ROUTING_KEY);
    await channel.bindQueue(control.queue, topology.controlExchange, workerRoutingPattern(workerId));
    await channel.consume(control.queue, (msg) => msg && this.onControl(msg), { noAck: true, consumerTag: `${workerId}.control` });
    await this.openReplyChannel(model);
    if (this.stopped) return; // a drain began while we connected: take no work
    this.channel = channel;
    await this.consumeRequests(channel);
  }

  /** The reply channel, opening one if there is none; replies settling at once share one opening. */
  private openReplyChannel(model: ChannelModel): Promise<ConfirmChannel> {
    this.replyChannel ??= model.createConfirmChannel().then((replies) => {
      replies.on('error', (err: Error) => this.options.logger.warn({ err: err.message }, 'reply channel closed by the broker; opening another'));
      replies.on('close', () => {
        if (this.replyChannel === opening) this.replyChannel = undefined;
      });
      return replies;
    });
    const opening = this.replyChannel;
    opening.catch(() => {
      if (this.replyChannel === opening) this.replyChannel = undefined;
    });
    return opening;
  }

  /** The consumer tag shows the role in the management UI, e.g. "worker-1a2b" or "worker-1a2b (spare)". */
  private get consumerTag(): string {
    return this.role === 'spare' ? `${this.options.workerId} (spare)` : this.options.workerId;
  }

  private async consumeRequests(channel: Channel): Promise<void> {
    const tag = this.consumerTag;
    await channel.consume(this.options.topology.requestQueue, (msg) => this.onDelivery(channel, msg), {
      noAck: false,
      consumerTag: tag,
      priority: CONSUMER_PRIORITY[this.role],
    });
    if (this.stopped) {
      // A drain began while the broker registered the consumer: stopConsuming found no tag to cancel.
      await channel.cancel(tag).catch(() => undefined);
      return;
    }
    this.activeTag = tag;
  }

  private onControl(msg: ConsumeMessage): void {
    try {
      this.callbacks.onControl(decodeControl(msg.content));
    } catch (err) {
      this.options.logger.warn({ err: errorMessage(err) }, 'ignored a bad control message');
    }
  }

  /**
   * Consume again at the regular priority. Cancelling a consumer does not
   * return its unacked messages, so the jobs it holds finish and are acked as usual.
   */
  async promote(): Promise<void> {
    if (this.role === 'worker') return;
    this.role = 'worker'; // from now on, every (re)connect consumes at the regular priority
    const channel = this.channel;
    const spareTag = this.activeTag;
    if (!channel || !spareTag) return;
    try {
      // A new tag: a quorum queue kept serving the old consumer first when the same tag came back.
      await channel.cancel(spareTag);
      this.activeTag = undefined;
      if (this.stopped) return; // a drain began meanwhile: stay cancelled
      await this.consumeRequests(channel);
    } catch (err) {
      this.options.logger.warn({ err: errorMessage(err) }, 'promotion interrupted; the reconnect consumes at the regular priority');
    }
  }

  private onDelivery(channel: Channel, msg: ConsumeMessage | null): void {
    if (msg === null) {
      // The broker cancelled us (e.g. the queue was deleted): reconnect and redeclare.
      this.options.logger.warn('consumer cancelled by the broker; reconnecting');
      if (!this.stopped) channel.close().catch(() => undefined);
      return;
    }
    void this.callbacks.deliver(msg, (result) => this.settle(channel, msg, result));
  }

  /**
   * Publishes the reply, then acks, nacks or requeues the delivery, so that the
   * ack cannot take effect without the reply. Synchronous when the reply can go at once.
   *
   * - To an address not seen before: on the reply channel, and resolves once the
   *   broker confirms it. A malformed direct reply-to address makes the broker
   *   close the channel it was published on; that must not take the consumer
   *   and the other jobs it holds with it.
   * - To a direct reply-to address the broker has confirmed a reply to before:
   *   on the consumer's own channel, right away. The broker handles a channel's
   *   frames in order, so by the time it takes the ack it has routed the reply;
   *   if the reply fails the channel, the ack after it is discarded and the
   *   request redelivered. This saves a confirm round trip per request while
   *   the delivery holds a prefetch slot (about 20% of the throughput with
   *   echo jobs). Only direct reply-to: a named reply queue can drop a reply
   *   without failing the channel (overflow=reject-publish), which only a
   *   confirm shows. Only small replies: one over the broker's
   *   max_message_size would fail the consumer's channel and every job on it.
   */
  private settle(channel: Channel, msg: ConsumeMessage, result: RequestResult): Promise<void> {
    const reply = result.reply;
    if (!reply) {
      this.finish(channel, msg, result.settle);
      return SETTLED;
    }
    const trace = result.trace && replySpan(result.trace, reply.replyTo, reply.correlationId);
    if (this.canReplyAtOnce(reply.replyTo, reply.encoded)) {
      let settle = result.settle;
      try {
        channel.publish('', reply.replyTo, reply.encoded, trace ? { correlationId: reply.correlationId, headers: trace.headers } : { correlationId: reply.correlationId });
        trace?.end();
      } catch (err) {
        trace?.end(err);
        settle = this.cannotReply(err);
      }
      this.finish(channel, msg, settle);
      return SETTLED;
    }
    return this.publishConfirmed(reply.replyTo, reply.correlationId, reply.encoded, trace?.headers).then(
      () => {
        trace?.end();
        this.finish(channel, msg, result.settle);
      },
      (err: unknown) => {
        trace?.end(err);
        this.finish(channel, msg, this.cannotReply(err));
      },
    );
  }

  /**
   * Only the sending can fail (its channel closed; the reply is encoded
   * already): give the request back, to be answered by another delivery. A reply
   * address that always fails runs into the delivery limit and is dead-lettered.
   */
  private cannotReply(err: unknown): Settle {
    this.options.logger.debug({ err: errorMessage(err) }, 'could not send a reply; requeueing the request');
    return 'requeue';
  }

  private finish(channel: Channel, msg: ConsumeMessage, settle: Settle): void {
    try {
      if (settle === 'ack') channel.ack(msg);
      else channel.nack(msg, false, settle === 'requeue');
    } catch (err) {
      this.options.logger.debug({ err: errorMessage(err) }, 'could not settle a delivery; the broker will redeliver it');
    }
  }

  /** Whether the reply may go on the consumer's channel without a confirm (see settle). */
  private canReplyAtOnce(replyTo: string, body: Buffer): boolean {
    return body.length <= FAST_REPLY_MAX_BYTES && this.provenReplyAddresses.has(replyTo);
  }

  /** The first reply to an address, a large one, or one to a named queue: on the reply channel, confirmed. */
  private async publishConfirmed(replyTo: string, correlationId: string, body: Buffer, headers: Record<string, string> | undefined): Promise<void> {
    if (!this.model) throw new Error('not connected');
    const channel = await this.openReplyChannel(this.model);
    await new Promise<void>((resolve, reject) => {
      channel.publish('', replyTo, body, headers ? { correlationId, headers } : { correlationId }, (err: unknown) =>
        err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(),
      );
    });
    if (replyTo.startsWith(`${REPLY_TO_DIRECT}.`)) this.provenReplyAddresses.add(replyTo);
  }

  async stopConsuming(): Promise<void> {
    this.stopped = true;
    // Still connecting, and not consuming yet (setup sets the channel before it
    // consumes): nothing can be in flight, so the connect is cancelled rather than
    // waited for; it may be retrying a broker that is down. Once consuming, the
    // connection stays up until close(), so what is in flight can still be acked.
    if (!this.connection && !this.channel) this.connecting.abort();
    const channel = this.channel;
    if (channel && this.activeTag) {
      await channel.cancel(this.activeTag).catch(() => undefined);
      this.activeTag = undefined;
    }
  }

  private closeOnce: Promise<void> | undefined;

  /** Same promise on every call. */
  close(): Promise<void> {
    this.closeOnce ??= (async () => {
      this.stopped = true;
      await this.replyChannel?.then((replies) => this.closeChannel(replies)).catch(() => undefined);
      if (this.channel) await this.closeChannel(this.channel);
      await this.connection?.close().catch(() => undefined);
      this.connecting.abort(); // a start still under way: it closes what it opens
    })();
    return this.closeOnce;
  }

  /**
   * Closes a channel, or stops waiting once its connection has closed: amqplib
   * never settles a channel's close() whose connection closes first (the
   * connection ignores the ChannelCloseOk once it is closing). That happens
   * when a drain cancels a start (the connection closes as its setup ends)
   * or when the broker drops the connection during a drain.
   */
  private closeChannel(channel: Channel): Promise<void> {
    const model = this.model;
    let onClosed = () => {};
    const connectionClosed = new Promise<void>((resolve) => (onClosed = resolve));
    model?.once('close', onClosed);
    return Promise.race([channel.close().catch(() => undefined), connectionClosed]).finally(() => model?.off('close', onClosed));
  }
}

/** The reply's span (infra/tracing.ts); a direct reply-to address is named by its pseudo-queue, not the per-channel address. */
function replySpan(trace: NonNullable<RequestResult['trace']>, replyTo: string, correlationId: string): PublishTrace | undefined {
  const direct = replyTo.startsWith(REPLY_TO_DIRECT);
  return startReplySpan(trace.parent, { system: 'rabbitmq', destination: direct ? REPLY_TO_DIRECT : replyTo }, correlationId, trace.job, direct);
}
