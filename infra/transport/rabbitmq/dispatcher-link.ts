import type { ChannelModel, ConfirmChannel, RecoveringChannelModel } from 'amqplib';
import { publishControl, QUIT_ROUTING_KEY } from '../../amqp/control.js';
import { connectBroker } from '../../amqp/connection.js';
import { assertTopology, type Topology } from '../../amqp/topology.js';
import { errorMessage, ShoalError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { decodeControl, type ControlMessage } from '../../protocol.js';
import { DeadLetterReplier } from './dead-letter-replies.js';
import { rabbitQueueDepth } from './queue-depth.js';
import { SourceGuard } from '../../source-guard.js';
import type { DispatcherLink, QueueDepth } from '../types.js';

export interface RabbitDispatcherLinkOptions {
  amqpUrl: string;
  topology: Topology;
  deliveryLimit: number;
  logger: Logger;
  onQuit: () => void;
  /** The management API, for unacked and the publish rate; undefined for the passive declare alone. */
  managementUrl?: string | undefined;
}

/**
 * The dispatcher's RabbitMQ link: one broker connection (it reconnects by itself): declares
 * the pool's topology, listens for `quit`, sends control messages to workers,
 * and reads the queue depth with a passive declare.
 */
export class RabbitDispatcherLink implements DispatcherLink {
  private connection: RecoveringChannelModel | undefined;
  private channel: ConfirmChannel | undefined;
  private deadLetters: DeadLetterReplier | undefined;
  private closed = false;
  private readonly guard: SourceGuard;

  private constructor(private readonly options: RabbitDispatcherLinkOptions) {
    this.guard = new SourceGuard(options.logger);
  }

  static async connect(options: RabbitDispatcherLinkOptions): Promise<RabbitDispatcherLink> {
    const link = new RabbitDispatcherLink(options);
    link.connection = await connectBroker({
      url: options.amqpUrl,
      name: `shoal dispatcher ${options.topology.requestQueue}`,
      logger: options.logger,
      setup: (model) => link.setup(model),
    });
    return link;
  }

  private async setup(model: ChannelModel): Promise<void> {
    const { topology, logger, onQuit } = this.options;
    const channel = await model.createConfirmChannel();
    channel.on('error', (err: Error) => logger.warn({ err: err.message }, 'dispatcher channel error'));
    channel.on('close', () => {
      if (this.channel !== channel) return;
      this.channel = undefined;
      // A channel can die alone (e.g. checkQueue on a deleted queue): reconnecting re-runs
      // this setup, which declares the topology again and listens for quit again.
      if (!this.closed) model.close().catch(() => undefined);
    });
    await assertTopology(channel, topology, { deliveryLimit: this.options.deliveryLimit });
    const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true });
    await channel.bindQueue(queue, topology.controlExchange, QUIT_ROUTING_KEY);
    await channel.consume(queue, (msg) => {
      if (!msg) return;
      try {
        if (decodeControl(msg.content).type === 'quit') onQuit();
      } catch (err) {
        logger.warn({ err: errorMessage(err) }, 'ignored a bad control message');
      }
    }, { noAck: true, consumerTag: 'dispatcher.control' });
    // Callers of requests that no worker lived to answer get an error reply instead of a timeout.
    void this.deadLetters?.close();
    this.deadLetters = new DeadLetterReplier(model, topology, this.options.deliveryLimit, logger);
    await this.deadLetters.start();
    this.channel = channel;
  }

  /** The request queue's depth: the passive declare, and the management API when it answers. */
  queueDepth(): Promise<QueueDepth> {
    return rabbitQueueDepth({ queue: this.options.topology.requestQueue, managementUrl: this.options.managementUrl, passive: () => this.passiveDepth(), guard: this.guard });
  }

  /** Messages ready in the request queue and its consumers, straight from the broker. */
  async passiveDepth(): Promise<{ ready: number; consumers: number }> {
    const channel = this.requireChannel();
    const { messageCount, consumerCount } = await channel.checkQueue(this.options.topology.requestQueue);
    return { ready: messageCount, consumers: consumerCount };
  }

  async send(message: ControlMessage): Promise<boolean> {
    return (await publishControl(this.requireChannel(), this.options.topology, message)).routed;
  }

  private closeOnce: Promise<void> | undefined;

  /** Same promise on every call. */
  close(): Promise<void> {
    this.closeOnce ??= (async () => {
      this.closed = true;
      await this.deadLetters?.close();
      await this.channel?.close().catch(() => undefined);
      await this.connection?.close().catch(() => undefined);
    })();
    return this.closeOnce;
  }

  private requireChannel(): ConfirmChannel {
    if (!this.channel) throw new ShoalError('BROKER_UNAVAILABLE', 'the dispatcher is reconnecting to the broker');
    return this.channel;
  }
}
