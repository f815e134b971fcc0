import { randomUUID } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import type { ChannelModel, ConfirmChannel, ConsumeMessage, Message, RecoveringChannelModel } from 'amqplib';
import { connectBroker } from '../infra/amqp/connection.js';
import { assertTopology } from '../infra/amqp/topology.js';
import { PublishError, ShoalError, TimeoutError, ValidationError } from '../infra/errors.js';
import type { Logger } from '../infra/log.js';
import {
  decodeReply,
  encodeRequestBody,
  HEADER_SENT_AT,
  HEADER_VERSION,
  PROTOCOL_VERSION,
  REPLY_TO_DIRECT,
  type Reply,
  type Topology,
} from '../infra/protocol.js';

export interface RpcClientOptions {
  amqpUrl: string;
  topology: Topology;
  deliveryLimit: number;
  maxBodyBytes: number;
  /** Connection name in the management UI. */
  name: string;
  logger: Logger;
  /** Retries of the first connection before giving up (default 10). */
  initialMaxRetries?: number;
}

interface PendingCall {
  resolve: (reply: Reply) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * Request/reply over RabbitMQ with direct reply-to.
 *
 * - Requests are published with publisher confirms and `mandatory`, so a nack
 *   or an unroutable request fails the call instead of vanishing.
 * - When the channel's buffer is full (`publish` returns false), later calls
 *   wait for 'drain' before publishing.
 * - Each call has a timeout, which is also the message's expiration: a request
 *   nobody answered in time is not run after its caller has given up.
 * - Replies are matched by correlation id; unknown or repeated ones are dropped,
 *   so a caller sees each reply once even if a request was delivered twice.
 */
export class RpcClient {
  private connection: RecoveringChannelModel | undefined;
  private channel: ConfirmChannel | undefined;
  private readonly events = new EventEmitter();
  private readonly pending = new Map<string, PendingCall>();
  private readonly idPrefix = randomUUID();
  private sequence = 0;
  private writable: Promise<unknown> | undefined;
  private closing: Promise<void> | undefined;

  private constructor(private readonly options: RpcClientOptions) {}

  static async connect(options: RpcClientOptions): Promise<RpcClient> {
    const client = new RpcClient(options);
    client.connection = await connectBroker({
      url: options.amqpUrl,
      name: options.name,
      logger: options.logger,
      initialMaxRetries: options.initialMaxRetries,
      setup: (model) => client.setup(model),
    });
    return client;
  }

  get inFlight(): number {
    return this.pending.size;
  }

  private async setup(model: ChannelModel): Promise<void> {
    const channel = await model.createConfirmChannel();
    channel.on('error', (err: Error) => this.options.logger.warn({ err: err.message }, 'channel error'));
    channel.on('return', (msg: Message) => this.onReturn(msg));
    channel.on('close', () => {
      if (this.channel !== channel) return;
      this.channel = undefined;
      this.writable = undefined;
      if (!this.closing) model.close().catch(() => undefined);
    });
    await assertTopology(channel, this.options.topology, { deliveryLimit: this.options.deliveryLimit });
    // Direct reply-to: consume in no-ack mode, on the publishing channel, before the first publish.
    await channel.consume(REPLY_TO_DIRECT, (msg) => msg && this.onReply(msg), { noAck: true });
    this.channel = channel;
    this.events.emit('ready');
  }

  /**
   * Sends one request and resolves with its reply (ok or not). Rejects with a
   * TimeoutError, a PublishError (nacked or unroutable) or a ValidationError.
   */
  async call(job: string, payload: unknown, timeoutMs: number): Promise<Reply> {
    if (this.closing) throw new ShoalError('CLIENT_CLOSED', 'the client is closed');
    const body = encodeRequestBody(job, payload);
    if (body.length > this.options.maxBodyBytes) {
      throw new ValidationError('BODY_TOO_LARGE', `request body is ${body.length} bytes; the limit is ${this.options.maxBodyBytes}`);
    }
    const id = `${this.idPrefix}.${++this.sequence}`;
    const deadline = Date.now() + timeoutMs;
    const channel = await this.readyChannel(deadline);

    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => this.settle(id, new TimeoutError(`no reply to ${job} within ${timeoutMs}ms`)), Math.max(0, deadline - Date.now()));
      this.pending.set(id, { resolve, reject, timer });
      const now = Date.now();
      try {
        const accepted = channel.publish(
          '',
          this.options.topology.requestQueue,
          body,
          {
            messageId: id,
            correlationId: id,
            replyTo: REPLY_TO_DIRECT,
            type: job,
            timestamp: Math.floor(now / 1000),
            expiration: String(Math.max(1, deadline - now)),
            persistent: true,
            mandatory: true,
            contentType: 'application/json',
            headers: { [HEADER_VERSION]: PROTOCOL_VERSION, [HEADER_SENT_AT]: now },
          },
          (err: unknown) => {
            if (err) this.settle(id, new PublishError(`the broker did not confirm request ${id}`, { cause: err, code: 'PUBLISH_NACKED' }));
          },
        );
        if (!accepted) this.writable ??= once(channel, 'drain').finally(() => (this.writable = undefined));
      } catch (err) {
        this.settle(id, new PublishError(`could not publish request ${id}: ${(err as Error).message}`, { cause: err }));
      }
    });
  }

  /** Waits for a usable channel that has room in its buffer. */
  private async readyChannel(deadline: number): Promise<ConfirmChannel> {
    for (;;) {
      if (this.writable) await this.writable;
      if (this.channel) return this.channel;
      const waitMs = deadline - Date.now();
      if (waitMs <= 0) throw new TimeoutError('no broker connection before the request timed out');
      await once(this.events, 'ready', { signal: AbortSignal.timeout(waitMs) }).catch(() => undefined);
    }
  }

  private onReply(msg: ConsumeMessage): void {
    const id = msg.properties.correlationId as string | undefined;
    const call = id === undefined ? undefined : this.pending.get(id);
    if (!call || id === undefined) return; // late (timed out) or duplicate: drop it
    try {
      const reply = decodeReply(msg.content);
      this.forget(id, call);
      call.resolve(reply);
    } catch (err) {
      this.settle(id, err as Error);
    }
  }

  private onReturn(msg: Message): void {
    const id = msg.properties.correlationId as string | undefined;
    if (id) {
      this.settle(id, new PublishError(`request queue ${this.options.topology.requestQueue} does not exist; nothing took the request`, { code: 'UNROUTABLE' }));
    }
  }

  private settle(id: string, err: Error): void {
    const call = this.pending.get(id);
    if (!call) return;
    this.forget(id, call);
    call.reject(err);
  }

  private forget(id: string, call: PendingCall): void {
    this.pending.delete(id);
    clearTimeout(call.timer);
    if (this.pending.size === 0) this.events.emit('idle');
  }

  /** Waits for calls in flight to settle, then closes the channel and the connection. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.pending.size > 0) await once(this.events, 'idle');
      await this.channel?.close().catch(() => undefined);
      await this.connection?.close().catch(() => undefined);
    })();
    return this.closing;
  }
}
