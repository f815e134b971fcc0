import type { Channel, ChannelModel, ConsumeMessage, RecoveringChannelModel } from 'amqplib';
import { connectBroker } from '../../amqp/connection.js';
import { assertTopology, type Topology } from '../../amqp/topology.js';
import { errorMessage } from '../../errors.js';
import type { Logger } from '../../log.js';
import { CANCEL_ROUTING_KEY, QUIT_ROUTING_KEY, workerRoutingPattern } from '../../amqp/control.js';
import { decodeControl } from '../../protocol.js';
import type { MessagingTarget } from '../../tracing.js';
import type { ConsumerCallbacks, RequestConsumer, RequestResult, Settle } from '../types.js';
import type { WorkerRole } from '../../worker-role.js';
import { ReplyPublisher } from './reply-publisher.js';

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

const SETTLED = Promise.resolve();

const isPromise = <T>(value: unknown): value is Promise<T> => typeof (value as Promise<T> | undefined)?.then === 'function';

/**
 * A worker's RabbitMQ side: consumes the request queue with manual acks and a
 * prefetch of its concurrency, publishes each reply, and only then acks (see
 * ReplyPublisher.send for how the reply is made safe). Listens for quit and for control messages
 * addressed to this worker. Reconnects by itself and consumes again.
 */
export class RabbitConsumer implements RequestConsumer {
  private connection: RecoveringChannelModel | undefined;
  private model: ChannelModel | undefined;
  /** Consumes requests and settles them. */
  private channel: Channel | undefined;
  /** The request consumer's tag on `channel`, once it consumes. */
  private activeTag: string | undefined;
  /** Sends the replies, on a channel of their own or, once an address is proven, on `channel`. */
  private readonly replies: ReplyPublisher;
  private role: WorkerRole = 'worker';
  private stopped = false;
  /** Cancels a first connect still under way when a drain comes first (see stopConsuming). */
  private readonly connecting = new AbortController();
  private callbacks: ConsumerCallbacks | undefined;
  /** Deliveries whose result or reply is still to come: close() waits for them before it closes the channels. */
  private readonly settling = new Set<Promise<void>>();
  readonly messaging: MessagingTarget;

  constructor(private readonly options: RabbitConsumerOptions) {
    this.replies = new ReplyPublisher(options.logger, () => this.model);
    this.messaging = { system: 'rabbitmq', destination: options.topology.requestQueue };
  }

  /** Rejects with code CANCELLED when stopConsuming() or close() came before the connection was ready. */
  async start(role: WorkerRole, callbacks: ConsumerCallbacks): Promise<void> {
    this.role = role;
    this.callbacks = callbacks;
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
    await this.replies.open(model);
    if (this.stopped) return; // a drain began while we connected: take no work
    this.channel = channel;
    await this.consumeRequests(channel);
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
      this.callbacks!.onControl(decodeControl(msg.content));
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
    let result: RequestResult | Promise<RequestResult>;
    try {
      result = this.callbacks!.deliver(msg);
    } catch (err) {
      result = this.unexpected(err);
    }
    const settled = isPromise<RequestResult>(result)
      ? result.then((r) => this.settle(channel, msg, r), (err: unknown) => this.settle(channel, msg, this.unexpected(err)))
      : this.settle(channel, msg, result);
    if (settled !== SETTLED) this.track(settled);
  }

  /** The worker answers every failure it knows of; anything else must not strand the delivery. */
  private unexpected(err: unknown): RequestResult {
    this.options.logger.error({ err: errorMessage(err) }, 'request handling failed unexpectedly; requeueing it');
    return { settle: 'requeue' };
  }

  private track(settled: Promise<void>): void {
    this.settling.add(settled);
    const done = () => this.settling.delete(settled);
    settled.then(done, done);
  }

  /**
   * Publishes the reply, then acks, nacks or requeues the delivery, so that the
   * ack cannot take effect without the reply. Synchronous when the reply can go at
   * once. A reply that could not be sent requeues the request, to be answered by
   * another delivery (see ReplyPublisher.send).
   */
  private settle(channel: Channel, msg: ConsumeMessage, result: RequestResult): Promise<void> {
    const reply = result.reply;
    if (!reply) {
      this.finish(channel, msg, result.settle);
      return SETTLED;
    }
    const sent = this.replies.send(channel, reply, result.trace);
    if (typeof sent === 'boolean') {
      this.finish(channel, msg, sent ? result.settle : 'requeue');
      return SETTLED;
    }
    return sent.then((ok) => this.finish(channel, msg, ok ? result.settle : 'requeue'));
  }

  private finish(channel: Channel, msg: ConsumeMessage, settle: Settle): void {
    try {
      if (settle === 'ack') channel.ack(msg);
      else channel.nack(msg, false, settle === 'requeue');
    } catch (err) {
      this.options.logger.debug({ err: errorMessage(err) }, 'could not settle a delivery; the broker will redeliver it');
    }
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

  /** Waits for the deliveries still settling (their replies, then their acks), then disconnects. Same promise on every call. */
  close(): Promise<void> {
    this.closeOnce ??= (async () => {
      this.stopped = true;
      while (this.settling.size > 0) await Promise.allSettled([...this.settling]);
      await this.replies.close((replies) => this.closeChannel(replies));
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
