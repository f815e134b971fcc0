import { randomUUID } from 'node:crypto';
import type { ConfirmChannel, ConsumeMessage, Message } from 'amqplib';
import { REPLY_TO_DIRECT } from '../../amqp/topology.js';
import { errorMessage, PublishError, ShoalError, TimeoutError } from '../../errors.js';
import { publishControl } from '../../amqp/control.js';
import { callCancelled, onCallAborted } from '../abort-call.js';
import { PendingCalls, type PendingCall } from '../pending-calls.js';
import { startPublishSpan, type MessagingTarget, type PublishTrace } from '../../tracing.js';
import type { DeliveryStats, RpcCaller } from '../types.js';
import { ClientChannel, type ClientChannelOptions } from './client-channel.js';
import {
  decodeReply,
  encodeBoundedRequest,
  HEADER_DEADLINE,
  HEADER_SENT_AT,
  requestHeaders,
  type Reply,
} from '../../protocol.js';

export interface RabbitRpcClientOptions extends ClientChannelOptions {
  maxBodyBytes: number;
}

interface PublishedCall extends PendingCall {
  job: string;
  body: Buffer;
  /** When it was first published (epoch ms): the worker measures its queue wait from it. */
  sentAt: number;
  deadline: number;
  /** Whether it has been published once: later publishes are republishes. */
  published: boolean;
  /** The channel it was last published on; its replies die with that channel. */
  channel: ConfirmChannel | undefined;
  confirmed: boolean;
  nacks: number;
  /** Its publish span and trace headers, when an OpenTelemetry SDK is registered (infra/tracing.ts). */
  trace: PublishTrace | undefined;
}

/** A request the broker nacks this often (publishes in all) fails instead of looping. */
const MAX_NACKS = 3;

/**
 * Request/reply over RabbitMQ with direct reply-to, at least once.
 *
 * - Requests are published with publisher confirms and `mandatory`: an
 *   unroutable request fails its call instead of vanishing.
 * - A nacked request is published again (same messageId), up to 3 times.
 * - Direct reply-to is bound to the channel that published, so after a
 *   reconnect every call still waiting is published again on the new channel.
 *   A dead connection is noticed by the heartbeat (10 s), which is the confirm
 *   timeout in effect.
 * - When the channel's buffer is full (`publish` returns false), later calls
 *   wait for 'drain' before publishing.
 * - Each call has a timeout, which is also the message's expiration, so a
 *   request nobody answered in time is not run after its caller has given up.
 * - Replies are matched by correlation id; repeated and late ones are dropped
 *   and counted, so a caller sees each reply once.
 *
 * The connection, its channel and the waits for one are ClientChannel's
 * (client-channel.ts); this class keeps the calls.
 */
export class RabbitRpcClient implements RpcCaller {
  /** Set by connect(); a (re)connect calls onChannel, which only needs it once calls are pending. */
  private link!: ClientChannel;
  private readonly idPrefix = randomUUID();
  private sequence = 0;
  private closing: Promise<void> | undefined;
  readonly stats: DeliveryStats = { calls: 0, confirmed: 0, republished: 0, answered: 0, duplicatesSuppressed: 0, lateReplies: 0 };
  private readonly firstHeaders = requestHeaders(0, undefined);
  private readonly againHeaders = requestHeaders(0, 0);
  private readonly tracing: MessagingTarget;
  private readonly pending = new PendingCalls<PublishedCall>(this.stats, (_id, call) => new TimeoutError(`no reply to ${call.job} within ${call.timeoutMs}ms`));

  private constructor(private readonly options: RabbitRpcClientOptions) {
    this.tracing = { system: 'rabbitmq', destination: options.topology.requestQueue };
  }

  static async connect(options: RabbitRpcClientOptions): Promise<RabbitRpcClient> {
    const client = new RabbitRpcClient(options);
    client.link = await ClientChannel.open(options, {
      onChannel: (channel) => client.onChannel(channel),
      onReply: (msg) => client.onReply(msg),
      onReturn: (msg) => client.onReturn(msg),
      isClosing: () => client.closing !== undefined,
    });
    return client;
  }

  get inFlight(): number {
    return this.pending.size;
  }

  /** A new channel (a reconnect): direct reply-to is bound to the old one, so every call still waiting is published again. */
  private onChannel(channel: ConfirmChannel): void {
    const orphans = [...this.pending.entries()].filter(([, call]) => call.channel !== channel);
    if (orphans.length > 0) this.options.logger.info({ requests: orphans.length }, 'reconnected: publishing the waiting requests again');
    for (const [id, call] of orphans) {
      this.stats.republished++;
      this.publish(id, call);
    }
  }

  /**
   * Sends one request and resolves with its reply (ok or not). Rejects with a
   * TimeoutError, a PublishError (nacked or unroutable) or a ValidationError.
   * Not async: with a channel ready (nearly always) it publishes at once,
   * without the extra promises an async function and an await cost per call.
   */
  call(job: string, payload: unknown, timeoutMs: number, signal?: AbortSignal): Promise<Reply> {
    let body: Buffer;
    try {
      if (this.closing) throw new ShoalError('CLIENT_CLOSED', 'the client is closed');
      if (signal?.aborted) throw callCancelled(job, signal);
      body = encodeBoundedRequest(job, payload, this.options.maxBodyBytes);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    this.stats.calls++;
    const id = `${this.idPrefix}.${++this.sequence}`;
    const startedAt = performance.now();
    const deadline = Date.now() + timeoutMs;
    // In the caller's context, so that its active span is the publish span's parent.
    const trace = startPublishSpan(this.tracing, id, job);
    if (this.link.ready) return this.send(id, job, body, timeoutMs, deadline, startedAt, signal, trace);
    const sent = this.link.readyChannel(deadline).then(() => {
      if (signal?.aborted) throw callCancelled(job, signal); // aborted while it waited for a channel: never sent
      return this.send(id, job, body, timeoutMs, deadline, startedAt, signal, trace);
    });
    if (!trace) return sent;
    return sent.catch((err: unknown) => {
      trace.end(err); // never sent, or its call failed: ended once (PublishTrace.end)
      throw err;
    });
  }

  private send(id: string, job: string, body: Buffer, timeoutMs: number, deadline: number, startedAt: number, signal: AbortSignal | undefined, trace: PublishTrace | undefined): Promise<Reply> {
    const reply = new Promise<Reply>((resolve, reject) => {
      const call: PublishedCall = { job, body, sentAt: Date.now(), deadline, published: false, channel: undefined, confirmed: false, nacks: 0, resolve, reject, timeoutMs, trace };
      this.pending.add(id, call, startedAt);
      this.publish(id, call);
    });
    // Not confirmed before the call failed (nacked, unroutable, timed out, aborted): the publish span says why.
    if (trace) reply.catch((err: unknown) => trace.end(err));
    onCallAborted(signal, reply, () => {
      if (this.pending.abort(id, callCancelled(job, signal!))) this.sendCancel(id);
    });
    return reply;
  }

  /** Tells every worker of the pool that the request was cancelled; at most once, like any control message. */
  private sendCancel(messageId: string): void {
    const channel = this.link.current;
    if (!channel) return; // no channel now: its deadline still bounds the request
    publishControl(channel, this.options.topology, { type: 'cancel', messageId }).catch((err: unknown) =>
      this.options.logger.debug({ messageId, err: errorMessage(err) }, 'could not send a cancel'),
    );
  }

  /** Publishes (or publishes again) one pending call on the current channel. */
  private publish(id: string, call: PublishedCall): void {
    const channel = this.link.current;
    if (!channel) return; // onChannel() publishes it on the next channel
    // The first publish says when it was sent (now) and its time to live, which give the deadline
    // (requestHeaders); a later one sends what is left to live, so it names the deadline too.
    const now = Date.now();
    const first = !call.published;
    const ttl = call.deadline - now;
    if (ttl <= 0) return; // its timer is about to fire
    if (first) call.sentAt = now;
    call.published = true;
    call.channel = channel;
    try {
      const accepted = channel.publish(
        '',
        this.options.topology.requestQueue,
        call.body,
        {
          messageId: id,
          correlationId: id,
          replyTo: REPLY_TO_DIRECT,
          type: call.job,
          timestamp: Math.floor(call.sentAt / 1000),
          expiration: String(ttl),
          persistent: true,
          mandatory: true,
          headers: this.headersFor(call, first),
        },
        (err: unknown) => this.onConfirm(id, call, channel, err),
      );
      if (!accepted) this.link.waitForRoom(channel);
    } catch {
      // The channel closed under us: onChannel() publishes it again on the next one.
    }
  }

  /**
   * The request's headers, in one object per shape, reused: amqplib encodes
   * them within publish() (through an object whose prototype they become),
   * and V8 makes each new object used as a prototype slow to enumerate. A new
   * headers object per publish cost about 4 µs, a reused one about 1 µs.
   */
  private headersFor(call: PublishedCall, first: boolean): Record<string, number | string> {
    // Traced: headers of its own (the trace context is per request). Tracing costs this allocation, not the untraced path.
    if (call.trace) return { ...requestHeaders(call.sentAt, first ? undefined : call.deadline), ...call.trace.headers };
    const headers = first ? this.firstHeaders : this.againHeaders;
    headers[HEADER_SENT_AT] = call.sentAt;
    if (!first) headers[HEADER_DEADLINE] = call.deadline;
    return headers;
  }

  private onConfirm(id: string, call: PublishedCall, channel: ConfirmChannel, err: unknown): void {
    if (!err) {
      if (!call.confirmed) this.stats.confirmed++;
      call.confirmed = true;
      call.trace?.end();
      return;
    }
    // amqplib fails unconfirmed publishes when their channel closes, before our 'close'
    // handler runs: look again once it has, so a dropped channel does not count as a nack.
    setImmediate(() => this.onNack(id, call, channel, err));
  }

  private onNack(id: string, call: PublishedCall, channel: ConfirmChannel, err: unknown): void {
    if (!this.pending.has(id) || this.link.current !== channel || call.channel !== channel) return; // answered, or the next channel takes it
    if (++call.nacks >= MAX_NACKS) {
      this.pending.fail(id, new PublishError(`the broker refused request ${id} ${MAX_NACKS} times`, { cause: err, code: 'PUBLISH_NACKED' }));
      return;
    }
    this.stats.republished++;
    this.publish(id, call);
  }

  private onReply(msg: ConsumeMessage): void {
    const id = msg.properties.correlationId as string | undefined;
    if (id === undefined) return;
    if (!this.pending.has(id)) {
      this.pending.countStray(id);
      return;
    }
    try {
      this.pending.answer(id, decodeReply(msg.content));
    } catch (err) {
      this.pending.fail(id, err as Error);
    }
  }

  private onReturn(msg: Message): void {
    const id = msg.properties.correlationId as string | undefined;
    if (id) {
      this.pending.fail(id, new PublishError(`request queue ${this.options.topology.requestQueue} does not exist; nothing took the request`, { code: 'UNROUTABLE' }));
    }
  }

  /** Waits for calls in flight to settle, then closes the channel and the connection. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.pending.whenIdle();
      await this.link.close();
    })();
    return this.closing;
  }
}
