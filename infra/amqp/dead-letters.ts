import type { ConfirmChannel, GetMessage, Message, Options } from 'amqplib';
import { formatDeadLetter } from '../dead-letter-summary.js';
import { errorMessage, ShoalError } from '../errors.js';
import { createLogger, type Logger } from '../log.js';
import { topologyFor, type Topology } from './topology.js';
import { connectBroker, type RecoveringChannelModel } from './connection.js';
import { describeDeadLetter, jobOf, requeueCopy } from './dead-letter-message.js';
import { publishMandatory } from './publish.js';

/**
 * `shoal-dead` on RabbitMQ: the pool's dead-letter queue (<ns>.dead). Neither
 * command can lose a message: `list` returns everything it fetched, and
 * `requeue` acks a dead letter only after the broker has confirmed its copy in
 * the request queue.
 */

// ---- list ----------------------------------------------------------------

/** `shoal-dead list`: what the dead-letter queue holds, as printed; every dead letter stays in it. */
export async function listDeadLetters(config: { amqpUrl: string; namespace: string; limit: number }, json: boolean): Promise<string> {
  const topology = topologyFor(config.namespace);
  return withChannel(config, async (channel) => {
    const total = await requireQueue(channel, topology.deadQueue, config.namespace, 'dead-letter');
    const letters: GetMessage[] = [];
    try {
      // Fetched unacked, so they stay in the queue, and held until the end so
      // that basic.get cannot hand the same message out twice.
      while (letters.length < config.limit) {
        const msg = await channel.get(topology.deadQueue, { noAck: false });
        if (!msg) break;
        letters.push(msg);
      }
    } finally {
      // Everything goes back. A quorum queue counts this requeue as a delivery
      // (x-delivery-count grows with each `list`), which is harmless because the
      // dead-letter queue has no delivery limit. (RabbitMQ 4.0+ gives quorum
      // queues a default limit of 20: there the DLQ must be declared without one.)
      returnUnacked(channel);
    }
    const summaries = letters.map(describeDeadLetter);
    if (json) {
      const deadLetters = summaries.map((s) => ({ ...s, diedAt: s.diedAt === undefined ? null : new Date(s.diedAt).toISOString() }));
      const report = { queue: topology.deadQueue, total, shown: letters.length, deadLetters };
      return `${JSON.stringify(report, (_key, value: unknown) => (value === undefined ? null : value))}\n`;
    }
    if (total === 0 && letters.length === 0) {
      return `${topology.deadQueue} is empty\n`;
    }
    const lines = summaries.map((s) => `${formatDeadLetter(s)}\n`).join('');
    const shown = letters.length < total ? `showed ${letters.length} of ${total} (--limit ${config.limit})` : `showed ${letters.length}`;
    return `${lines}${shown}; ${topology.deadQueue} holds ${total} dead letter(s), all still there\n`;
  });
}

// ---- requeue -------------------------------------------------------------

export interface RequeueConfig {
  amqpUrl: string;
  namespace: string;
  limit: number;
  job: string | undefined;
}

/**
 * `shoal-dead requeue`: moves dead letters back to the request queue, each acked only after
 * the broker confirmed its copy; returns the report to print.
 */
export async function requeueDeadLetters(config: RequeueConfig): Promise<string> {
  const topology = topologyFor(config.namespace);
  return withChannel(config, async (channel) => {
    // Only what is there now: a moved request that fails again comes straight
    // back, and `--all` must not chase it forever.
    const present = await requireQueue(channel, topology.deadQueue, config.namespace, 'dead-letter');
    await requireQueue(channel, topology.requestQueue, config.namespace, 'request');
    const counts = { moved: 0, skipped: 0, hadExpiration: 0 };
    try {
      for (let scanned = 0; counts.moved < config.limit && scanned < present; scanned++) {
        const msg = await channel.get(topology.deadQueue, { noAck: false });
        if (!msg) break;
        if (config.job !== undefined && jobOf(msg) !== config.job) {
          counts.skipped++; // held unacked until the end, so basic.get does not return it again
          continue;
        }
        const copy = requeueCopy(msg, Date.now());
        await publishConfirmed(channel, topology.requestQueue, msg, copy.options);
        channel.ack(msg);
        counts.moved++;
        if (copy.hadExpiration) counts.hadExpiration++;
      }
    } catch (err) {
      throw new ShoalError('REQUEUE_FAILED', `${errorMessage(err)} (moved ${counts.moved} before that; the rest are still in ${topology.deadQueue})`, { cause: err });
    } finally {
      returnUnacked(channel); // the skipped ones, and one whose publish failed
    }
    return requeueReport(topology, config.job, counts);
  });
}

function requeueReport(topology: Topology, job: string | undefined, c: { moved: number; skipped: number; hadExpiration: number }): string {
  const of = job === undefined ? '' : ` of job "${job}"`;
  const lines = [`moved ${c.moved} dead letter(s)${of} from ${topology.deadQueue} to ${topology.requestQueue}`];
  if (c.hadExpiration > 0) {
    lines.push(
      `${c.hadExpiration} of them had an expiration (their caller's timeout), which was dropped: ` +
        'those callers have stopped waiting, so the job runs but nobody reads its reply',
    );
  }
  if (c.skipped > 0) lines.push(`left ${c.skipped} dead letter(s) of other jobs in ${topology.deadQueue}`);
  return `${lines.join('\n')}\n`;
}

/** Publishes a copy and resolves once the broker has confirmed it into the queue. */
async function publishConfirmed(channel: ConfirmChannel, queue: string, original: Message, options: Options.Publish): Promise<void> {
  const id = options.messageId ?? '(no messageId)';
  const { routed } = await publishMandatory(channel, '', queue, original.content, options).catch(() => {
    throw new ShoalError('PUBLISH_NACKED', `the broker refused the copy of ${id} for ${queue}`);
  });
  if (!routed) throw new ShoalError('UNROUTABLE', `the copy of ${id} reached no queue: does ${queue} still exist?`);
}

// ---- broker --------------------------------------------------------------

/** Opens one confirm channel, runs `work` on it, and closes it (which also returns anything unacked). */
async function withChannel<T>(config: { amqpUrl: string; namespace: string }, work: (channel: ConfirmChannel) => Promise<T>): Promise<T> {
  const logger: Logger = createLogger({ component: 'dead-letters' }, 'warn');
  let channel: ConfirmChannel | undefined;
  const connection: RecoveringChannelModel = await connectBroker({
    url: config.amqpUrl,
    name: `shoal dead-letters ${config.namespace}`,
    logger,
    initialMaxRetries: 2,
    setup: async (model) => {
      channel = await model.createConfirmChannel();
      // A failed passive declare closes the channel with an error; its promise rejects too.
      channel.on('error', (err: Error) => logger.debug({ err: err.message }, 'channel error'));
    },
  });
  try {
    return await work(channel!);
  } finally {
    await channel?.close().catch(() => undefined);
    await connection.close().catch(() => undefined);
  }
}

/** Nacks (requeues) whatever the channel holds. On a channel that is already closed the broker has returned it all. */
function returnUnacked(channel: ConfirmChannel): void {
  try {
    channel.nackAll(true);
  } catch {
    // closed: nothing is held any more
  }
}

/** Ready messages in a queue; a clear error when the pool has never declared it. */
async function requireQueue(channel: ConfirmChannel, queue: string, namespace: string, what: string): Promise<number> {
  try {
    return (await channel.checkQueue(queue)).messageCount;
  } catch (err) {
    if ((err as { code?: number }).code === 404) {
      throw new ShoalError(
        'NO_QUEUE',
        `the ${what} queue ${queue} does not exist: no worker, dispatcher or producer of pool "${namespace}" has run on this broker. ` +
          'Check --namespace (or SHOAL_NAMESPACE) and --amqp-url.',
        { cause: err },
      );
    }
    throw err;
  }
}
