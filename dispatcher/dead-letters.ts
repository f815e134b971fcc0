#!/usr/bin/env node
import { Command } from 'commander';
import type { ConfirmChannel, GetMessage, Message, Options } from 'amqplib';
import { z } from 'zod';
import { connectBroker, type RecoveringChannelModel } from '../infra/amqp/connection.js';
import { commonSettings, integer, parseSettings, requireThat } from '../infra/config.js';
import { errorMessage, ShoalError } from '../infra/errors.js';
import { createLogger, type Logger } from '../infra/log.js';
import { JOB_NAME_PATTERN, topologyFor, type Topology } from '../infra/protocol.js';
import { describeDeadLetter, formatDeadLetter, jobOf, requeueCopy } from './dead-letter-message.js';
import { runMain } from '../infra/cli.js';
import { publishMandatory } from '../infra/amqp/publish.js';
import { redisSettings } from '../infra/redis.js';
import { requireRedisFor, transportSettings } from '../infra/transport/settings.js';
import { listFailed, requeueFailed } from './dead-letters-bullmq.js';

/**
 * `shoal-dead`: looks at a pool's dead-letter queue (<ns>.dead) and moves dead
 * letters back to its request queue. Neither command can lose a message:
 * `list` returns everything it fetched, and `requeue` acks a dead letter only
 * after the broker has confirmed its copy in the request queue. With
 * `--transport bullmq` both work on the queue's failed set (dead-letters-bullmq.ts).
 */
const program = new Command('shoal-dead')
  .description("Inspect a pool's dead-letter queue, and move dead letters back to its request queue.")
  .option('--amqp-url <url>', 'broker URL (default amqp://guest:guest@127.0.0.1:5672)')
  .option('--namespace <name>', 'pool namespace (default shoal)')
  .option('--transport <kind>', "rabbitmq (default: the dead-letter queue <ns>.dead) or bullmq (the queue's failed set)")
  .option('--redis-url <url>', 'Redis, for --transport bullmq (default redis://127.0.0.1:6379)')
  .showHelpAfterError()
  // Usage errors (no command, unknown option) are bad input: exit 2, as ConfigError does. Subcommands inherit this.
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));

const connectionSettings = { amqpUrl: commonSettings.amqpUrl, namespace: commonSettings.namespace, ...transportSettings, redisUrl: redisSettings.redisUrl };

const listSettings = {
  ...connectionSettings,
  limit: { env: 'SHOAL_DEAD_LIMIT', flag: '--limit', schema: integer({ default: 20, min: 1, max: 10_000 }) },
};

const requeueSettings = {
  ...connectionSettings,
  limit: {
    env: 'SHOAL_DEAD_LIMIT',
    flag: '--limit',
    schema: z.coerce.number({ error: 'must be a whole number' }).int({ error: 'must be a whole number' }).min(1, { error: 'must be >= 1' }).optional(),
  },
  job: {
    env: 'SHOAL_DEAD_JOB',
    flag: '--job',
    schema: z.string().regex(JOB_NAME_PATTERN, { error: 'must be a job name of letters, digits, ".", "_", ":" or "-"' }).optional(),
  },
};

let exitCode = 0;

program
  .command('list')
  .description('Show dead letters without removing them: they are fetched, printed, and returned to the queue.')
  .option('--limit <n>', 'show at most this many (default 20)')
  .option('--json', 'print JSON instead of one line per dead letter')
  .action(async (_opts: unknown, command: Command) => {
    const opts = command.optsWithGlobals<Record<string, unknown>>();
    const config = parseSettings(listSettings, process.env, opts);
    if (config.transport === 'bullmq') {
      requireRedisFor(config.transport, config.redisUrl);
      process.stdout.write(await listFailed(config, opts.json === true));
      return;
    }
    exitCode = await list(config, opts.json === true);
  });

program
  .command('requeue')
  .description('Move dead letters back to the request queue (publish, wait for the confirm, then ack the dead letter).')
  .option('--limit <n>', 'move at most this many')
  .option('--all', 'move every dead letter that is in the queue when the command starts')
  .option('--job <name>', 'move only dead letters of this job; the others stay in the dead-letter queue')
  .action(async (_opts: unknown, command: Command) => {
    const opts = command.optsWithGlobals<Record<string, unknown>>();
    const config = parseSettings(requeueSettings, process.env, opts);
    const all = opts.all === true;
    requireThat(!(all && opts.limit !== undefined), 'shoal-dead requeue takes --limit N or --all, not both');
    requireThat(all || config.limit !== undefined, 'shoal-dead requeue needs --limit N or --all: say how many dead letters to move');
    const limit = all ? Infinity : config.limit!;
    if (config.transport === 'bullmq') {
      requireRedisFor(config.transport, config.redisUrl);
      process.stdout.write(await requeueFailed({ ...config, limit }));
      return;
    }
    exitCode = await requeue({ ...config, limit });
  });

// ---- list ----------------------------------------------------------------

async function list(config: { amqpUrl: string; namespace: string; limit: number }, json: boolean): Promise<number> {
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
      process.stdout.write(`${JSON.stringify(report, (_key, value: unknown) => (value === undefined ? null : value))}\n`);
      return 0;
    }
    if (total === 0 && letters.length === 0) {
      process.stdout.write(`${topology.deadQueue} is empty\n`);
      return 0;
    }
    for (const s of summaries) process.stdout.write(`${formatDeadLetter(s)}\n`);
    const shown = letters.length < total ? `showed ${letters.length} of ${total} (--limit ${config.limit})` : `showed ${letters.length}`;
    process.stdout.write(`${shown}; ${topology.deadQueue} holds ${total} dead letter(s), all still there\n`);
    return 0;
  });
}

// ---- requeue -------------------------------------------------------------

interface RequeueConfig {
  amqpUrl: string;
  namespace: string;
  limit: number;
  job: string | undefined;
}

async function requeue(config: RequeueConfig): Promise<number> {
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
    process.stdout.write(requeueReport(topology, config.job, counts));
    return 0;
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
async function withChannel(config: { amqpUrl: string; namespace: string }, work: (channel: ConfirmChannel) => Promise<number>): Promise<number> {
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

async function main(): Promise<number> {
  await program.parseAsync();
  return exitCode;
}

runMain('shoal-dead', main);
