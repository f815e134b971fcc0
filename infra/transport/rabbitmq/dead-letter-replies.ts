import type { Channel, ChannelModel, Message } from 'amqplib';
import { errorMessage } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { Topology } from '../../amqp/topology.js';
import { encodeReply, HEADER_VERSION, PROTOCOL_VERSION, type Reply } from '../../protocol.js';
import { describeDeadLetter } from '../../amqp/dead-letter-message.js';

/** The code a caller gets for a request that no worker ever answered within the delivery limit. */
export const DELIVERY_LIMIT_CODE = 'DELIVERY_LIMIT';

export interface DeadLetterReply {
  replyTo: string;
  correlationId: string;
  body: Reply;
}

/**
 * The error reply owed to the caller of a dead letter, if it is owed one.
 *
 * Only `delivery_limit` deaths: every delivery of the request ended without a
 * settle, which is what a job that kills its worker (process.exit, a crash, the
 * OOM killer) does each time, so no worker was left to answer. A `rejected`
 * request was answered by the worker that rejected it, and an `expired` one
 * has a caller that stopped waiting.
 */
export function replyOwedFor(msg: Message, deliveryLimit: number): DeadLetterReply | undefined {
  const dead = describeDeadLetter(msg);
  if (dead.reason !== 'delivery_limit') return undefined;
  const { replyTo, correlationId } = msg.properties as { replyTo?: unknown; correlationId?: unknown };
  if (typeof replyTo !== 'string' || replyTo === '' || typeof correlationId !== 'string' || correlationId === '') return undefined;
  const message =
    `job "${dead.job ?? '?'}" was delivered ${deliveryLimit + 1} times and no worker answered it: each one stopped before replying ` +
    `(the job may crash or kill its worker). It is dead-lettered: see shoal-dead list`;
  return { replyTo, correlationId, body: { ok: false, error: { code: DELIVERY_LIMIT_CODE, message }, workerId: 'dispatcher', timings: { queuedMs: null, serviceMs: 0 } } };
}

/**
 * Answers the callers of requests that reached the delivery limit unanswered
 * (see replyOwedFor). Reads its own copy of the pool's dead letters: an
 * exclusive queue bound to the dead-letter exchange, which lives as long as the
 * dispatcher's connection, so `<ns>.dead` keeps every dead letter for
 * `shoal-dead` and nothing piles up while no dispatcher runs. Its own channel:
 * a reply to a malformed address closes it, and it opens another.
 */
export class DeadLetterReplier {
  private channel: Channel | undefined;
  private stopped = false;

  constructor(private readonly model: ChannelModel, private readonly topology: Topology, private readonly deliveryLimit: number, private readonly logger: Logger) {}

  async start(): Promise<void> {
    const channel = await this.model.createChannel();
    this.channel = channel;
    channel.on('error', (err: Error) => this.logger.warn({ err: err.message }, 'dead-letter reply channel closed by the broker; opening another'));
    channel.on('close', () => {
      if (this.stopped || this.channel !== channel) return;
      this.channel = undefined;
      setTimeout(() => void this.start().catch((err: unknown) => this.logger.debug({ err: errorMessage(err) }, 'cannot reopen the dead-letter reply channel')), 1000).unref();
    });
    const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true });
    await channel.bindQueue(queue, this.topology.deadExchange, '');
    await channel.consume(queue, (msg) => msg && this.onDeadLetter(channel, msg), { noAck: true, consumerTag: 'dispatcher.dead-letters' });
  }

  private onDeadLetter(channel: Channel, msg: Message): void {
    const owed = replyOwedFor(msg, this.deliveryLimit);
    if (!owed) return;
    this.logger.warn({ correlationId: owed.correlationId, messageId: msg.properties.messageId as unknown }, `a request reached the delivery limit unanswered; answering ${DELIVERY_LIMIT_CODE}`);
    channel.publish('', owed.replyTo, encodeReply(owed.body), { correlationId: owed.correlationId, contentType: 'application/json', headers: { [HEADER_VERSION]: PROTOCOL_VERSION } });
  }

  private closeOnce: Promise<void> | undefined;

  /** Same promise on every call. */
  close(): Promise<void> {
    this.closeOnce ??= (async () => {
      this.stopped = true;
      await this.channel?.close().catch(() => undefined);
    })();
    return this.closeOnce;
  }
}
