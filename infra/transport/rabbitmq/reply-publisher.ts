import type { Channel, ChannelModel, ConfirmChannel } from 'amqplib';
import { BoundedSet } from '../../bounded-set.js';
import { REPLY_TO_DIRECT } from '../../amqp/topology.js';
import { errorMessage } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { RequestResult } from '../types.js';
import { startReplySpan, type PublishTrace } from '../../tracing.js';

/** Replies up to this size may take the consumer channel (see send); larger ones are rare and confirmed. */
const FAST_REPLY_MAX_BYTES = 64 * 1024;

type Reply = NonNullable<RequestResult['reply']>;
type Trace = RequestResult['trace'];

/**
 * How a worker's replies reach their callers (RabbitConsumer settles a delivery
 * only after its reply is sent). Replies go out on their own confirm channel: a
 * reply to a malformed direct reply-to address makes the broker close the
 * channel it was published on, and that must not take the consumer and its
 * jobs with it. A reply to an address already proven goes on the consumer's
 * channel at once (see send).
 */
export class ReplyPublisher {
  private replyChannel: Promise<ConfirmChannel> | undefined;
  /** Reply addresses the broker has confirmed a reply to (one per caller channel): see send. */
  private readonly provenReplyAddresses = new BoundedSet<string>(1024);

  /** `connection` gives the consumer's current connection, which changes on every reconnect. */
  constructor(
    private readonly logger: Logger,
    private readonly connection: () => ChannelModel | undefined,
  ) {}

  /** The reply channel, opening one if there is none; replies settling at once share one opening. */
  open(model: ChannelModel): Promise<ConfirmChannel> {
    this.replyChannel ??= model.createConfirmChannel().then((replies) => {
      replies.on('error', (err: Error) => this.logger.warn({ err: err.message }, 'reply channel closed by the broker; opening another'));
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

  /**
   * Publishes a reply to a request delivered on `channel`. Returns whether it was
   * sent: synchronously when it went at once, else once the broker confirmed it.
   * The caller settles the delivery only after this, so that the ack cannot take
   * effect without the reply.
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
  send(channel: Channel, reply: Reply, requestTrace: Trace): boolean | Promise<boolean> {
    const trace = requestTrace && replySpan(requestTrace, reply.replyTo, reply.correlationId);
    if (this.canReplyAtOnce(reply.replyTo, reply.encoded)) {
      try {
        channel.publish('', reply.replyTo, reply.encoded, trace ? { correlationId: reply.correlationId, headers: trace.headers } : { correlationId: reply.correlationId });
        trace?.end();
        return true;
      } catch (err) {
        trace?.end(err);
        return this.cannotReply(err);
      }
    }
    return this.publishConfirmed(reply.replyTo, reply.correlationId, reply.encoded, trace?.headers).then(
      () => {
        trace?.end();
        return true;
      },
      (err: unknown) => {
        trace?.end(err);
        return this.cannotReply(err);
      },
    );
  }

  /** Closes the reply channel, if one is open, with the consumer's way of closing a channel. */
  async close(closeChannel: (channel: Channel) => Promise<void>): Promise<void> {
    await this.replyChannel?.then(closeChannel).catch(() => undefined);
  }

  /**
   * Only the sending can fail (its channel closed; the reply is encoded
   * already): the request is given back, to be answered by another delivery. A reply
   * address that always fails runs into the delivery limit and is dead-lettered.
   */
  private cannotReply(err: unknown): false {
    this.logger.debug({ err: errorMessage(err) }, 'could not send a reply; requeueing the request');
    return false;
  }

  /** Whether the reply may go on the consumer's channel without a confirm (see send). */
  private canReplyAtOnce(replyTo: string, body: Buffer): boolean {
    return body.length <= FAST_REPLY_MAX_BYTES && this.provenReplyAddresses.has(replyTo);
  }

  /** The first reply to an address, a large one, or one to a named queue: on the reply channel, confirmed. */
  private async publishConfirmed(replyTo: string, correlationId: string, body: Buffer, headers: Record<string, string> | undefined): Promise<void> {
    const model = this.connection();
    if (!model) throw new Error('not connected');
    const channel = await this.open(model);
    await new Promise<void>((resolve, reject) => {
      channel.publish('', replyTo, body, headers ? { correlationId, headers } : { correlationId }, (err: unknown) =>
        err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(),
      );
    });
    if (replyTo.startsWith(`${REPLY_TO_DIRECT}.`)) this.provenReplyAddresses.add(replyTo);
  }
}

/** The reply's span (infra/tracing.ts); a direct reply-to address is named by its pseudo-queue, not the per-channel address. */
function replySpan(trace: NonNullable<Trace>, replyTo: string, correlationId: string): PublishTrace | undefined {
  const direct = replyTo.startsWith(REPLY_TO_DIRECT);
  return startReplySpan(trace.parent, { system: 'rabbitmq', destination: direct ? REPLY_TO_DIRECT : replyTo }, correlationId, trace.job, direct);
}
