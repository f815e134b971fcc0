import { once } from 'node:events';
import type { ChannelModel, ConfirmChannel, ConsumeMessage, Message, RecoveringChannelModel } from 'amqplib';
import { connectBroker } from '../../amqp/connection.js';
import { assertTopology, REPLY_TO_DIRECT, type Topology } from '../../amqp/topology.js';
import { TimeoutError } from '../../errors.js';
import type { Logger } from '../../log.js';

export interface ClientChannelOptions {
  amqpUrl: string;
  topology: Topology;
  deliveryLimit: number;
  /** Benchmarks only (see TopologyOptions); quorum by default. */
  queueType?: 'quorum' | 'classic';
  /** Connection name in the management UI. */
  name: string;
  logger: Logger;
  /** Retries of the first connection before giving up (default 10). */
  initialMaxRetries?: number;
}

/** What the RPC client hears from its channel. */
export interface ClientChannelEvents {
  /** A new channel is ready to publish on (after the first connect, and after each reconnect). */
  onChannel: (channel: ConfirmChannel) => void;
  /** A message on direct reply-to. */
  onReply: (msg: ConsumeMessage) => void;
  /** A `mandatory` request the broker could not route. */
  onReturn: (msg: Message) => void;
  /** Whether the client is closing: a channel that closes then is not replaced. */
  isClosing: () => boolean;
}

/**
 * The RPC client's connection and its one confirm channel: it declares the
 * topology, consumes direct reply-to on the channel it publishes on (before
 * the first publish, as RabbitMQ requires), and after a reconnect brings a new
 * channel (amqplib's recovery reruns setup). Callers wait for a channel that
 * is there and has room in its buffer (readyChannel).
 */
export class ClientChannel {
  private connection: RecoveringChannelModel | undefined;
  private channel: ConfirmChannel | undefined;
  /**
   * Resolves when setup() brings a channel. Every call waiting for one shares
   * it: a listener per waiting call set off MaxListenersExceededWarning after
   * a reconnect with more than 10 calls waiting.
   */
  private nextChannel: { ready: Promise<void>; resolve: () => void } | undefined;
  /** Set while the channel's buffer is full: resolves on 'drain' or 'close'. */
  private writable: Promise<unknown> | undefined;

  private constructor(private readonly options: ClientChannelOptions, private readonly events: ClientChannelEvents) {}

  static async open(options: ClientChannelOptions, events: ClientChannelEvents): Promise<ClientChannel> {
    const link = new ClientChannel(options, events);
    link.connection = await connectBroker({
      url: options.amqpUrl,
      name: options.name,
      logger: options.logger,
      initialMaxRetries: options.initialMaxRetries,
      setup: (model) => link.setup(model),
    });
    return link;
  }

  /** The channel to publish on now, if any. */
  get current(): ConfirmChannel | undefined {
    return this.channel;
  }

  /** Whether a publish can go at once: there is a channel, with room in its buffer. */
  get ready(): boolean {
    return this.channel !== undefined && this.writable === undefined;
  }

  private async setup(model: ChannelModel): Promise<void> {
    const channel = await model.createConfirmChannel();
    channel.on('error', (err: Error) => this.options.logger.warn({ err: err.message }, 'channel error'));
    channel.on('return', (msg: Message) => this.events.onReturn(msg));
    channel.on('close', () => {
      if (this.channel !== channel) return;
      this.channel = undefined;
      this.writable = undefined;
      if (!this.events.isClosing()) model.close().catch(() => undefined);
    });
    await assertTopology(channel, this.options.topology, { deliveryLimit: this.options.deliveryLimit, queueType: this.options.queueType });
    // Direct reply-to: consume in no-ack mode, on the publishing channel, before the first publish.
    await channel.consume(REPLY_TO_DIRECT, (msg) => msg && this.events.onReply(msg), { noAck: true });
    this.channel = channel;
    this.events.onChannel(channel);
    this.nextChannel?.resolve();
    this.nextChannel = undefined;
  }

  /** After a publish that `channel` did not accept (its buffer is full): later ones wait for room, or for the channel to go (then setup() brings a new one). */
  waitForRoom(channel: ConfirmChannel): void {
    this.writable ??= Promise.race([once(channel, 'drain'), once(channel, 'close')])
      .catch(() => undefined)
      .finally(() => (this.writable = undefined));
  }

  /** Waits for a usable channel that has room in its buffer, until `deadline` (epoch ms). */
  async readyChannel(deadline: number): Promise<void> {
    for (;;) {
      if (this.writable) await this.writable;
      if (this.channel) return;
      const waitMs = deadline - Date.now();
      if (waitMs <= 0) throw new TimeoutError('no broker connection before the request timed out');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.channelReady(), new Promise((resolve) => (timer = setTimeout(resolve, waitMs)))]);
      clearTimeout(timer);
    }
  }

  /** The one wait for the next channel, shared by every call that needs it. */
  private channelReady(): Promise<void> {
    if (!this.nextChannel) {
      let resolve!: () => void;
      const ready = new Promise<void>((r) => (resolve = r));
      this.nextChannel = { ready, resolve };
    }
    return this.nextChannel.ready;
  }

  async close(): Promise<void> {
    await this.channel?.close().catch(() => undefined);
    await this.connection?.close().catch(() => undefined);
  }
}
