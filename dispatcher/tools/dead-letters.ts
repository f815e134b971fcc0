#!/usr/bin/env node
import { Command } from 'commander';
import { z } from 'zod';
import { listDeadLetters, requeueDeadLetters } from '../../infra/amqp/dead-letters.js';
import { commonSettings, integer, parseSettings, requireThat } from '../../infra/config.js';
import { JOB_NAME_PATTERN } from '../../infra/protocol.js';
import { addSettingFlags, runMain } from '../../infra/cli.js';
import { redisSettings } from '../../infra/redis.js';
import { requireRedisFor, transportSettings } from '../../infra/transport/settings.js';
import { listFailed, requeueFailed } from '../../infra/transport/bullmq/dead-letters.js';

/**
 * `shoal-dead`: looks at a pool's dead-letter queue (<ns>.dead) and moves dead
 * letters back to its request queue. Neither command can lose a message:
 * `list` returns everything it fetched, and `requeue` acks a dead letter only
 * after the broker has confirmed its copy in the request queue (infra/amqp/dead-letters.ts).
 * With `--transport bullmq` both work on the queue's failed set (infra/transport/bullmq/dead-letters.ts).
 */
const connectionSettings = {
  amqpUrl: commonSettings.amqpUrl,
  namespace: commonSettings.namespace,
  transport: { ...transportSettings.transport, help: "rabbitmq (the dead-letter queue <ns>.dead) or bullmq (the queue's failed set)" },
  redisUrl: redisSettings.redisUrl,
};

const program = addSettingFlags(
  new Command('shoal-dead').description("Inspect a pool's dead-letter queue, and move dead letters back to its request queue."),
  connectionSettings,
)
  .showHelpAfterError()
  // Usage errors (no command, unknown option) are bad input: exit 2, as ConfigError does. Subcommands inherit this.
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));

const listSettings = {
  ...connectionSettings,
  limit: { env: 'SHOAL_DEAD_LIMIT', flag: '--limit', help: 'show at most this many', schema: integer({ default: 20, min: 1, max: 10_000 }) },
};

const requeueSettings = {
  ...connectionSettings,
  limit: {
    env: 'SHOAL_DEAD_LIMIT',
    flag: '--limit',
    placeholder: '<n>',
    help: 'move at most this many',
    schema: z.coerce.number({ error: 'must be a whole number' }).int({ error: 'must be a whole number' }).min(1, { error: 'must be >= 1' }).optional(),
  },
  job: {
    env: 'SHOAL_DEAD_JOB',
    flag: '--job',
    placeholder: '<name>',
    help: 'move only dead letters of this job; the others stay in the dead-letter queue',
    schema: z.string().regex(JOB_NAME_PATTERN, { error: 'must be a job name of letters, digits, ".", "_", ":" or "-"' }).optional(),
  },
};

addSettingFlags(program.command('list'), { limit: listSettings.limit })
  .description('Show dead letters without removing them: they are fetched, printed, and returned to the queue.')
  .option('--json', 'print JSON instead of one line per dead letter')
  .action(async (_opts: unknown, command: Command) => {
    const opts = command.optsWithGlobals<Record<string, unknown>>();
    const config = parseSettings(listSettings, process.env, opts);
    if (config.transport === 'bullmq') {
      requireRedisFor(config.transport, config.redisUrl);
      process.stdout.write(await listFailed(config, opts.json === true));
      return;
    }
    process.stdout.write(await listDeadLetters(config, opts.json === true));
  });

addSettingFlags(program.command('requeue'), { limit: requeueSettings.limit, job: requeueSettings.job })
  .description('Move dead letters back to the request queue (publish, wait for the confirm, then ack the dead letter).')
  .option('--all', 'move every dead letter that is in the queue when the command starts')
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
    process.stdout.write(await requeueDeadLetters({ ...config, limit }));
  });

async function main(): Promise<number> {
  await program.parseAsync();
  return 0;
}

runMain('shoal-dead', main);
