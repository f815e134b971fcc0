#!/usr/bin/env node
import { Command } from 'commander';
import { commonSettings, parseSettings } from '../infra/config.js';
import { redisSettings } from '../infra/redis.js';
import { sendControl } from '../infra/transport/index.js';
import { requireRedisFor, transportSettings } from '../infra/transport/settings.js';
import { createLogger } from '../infra/log.js';
import { topologyFor, type ControlMessage } from '../infra/protocol.js';
import { runMain } from '../infra/cli.js';

/**
 * The end-client: tells the whole pool to quit (every worker drains and exits,
 * and the dispatcher removes what it started), or drains a single worker.
 */
const program = new Command('shoal-quit')
  .description('Send quit to every worker and dispatcher of a pool, or drain one worker.')
  .option('--drain <workerId>', 'drain just this worker instead of quitting the pool')
  .option('--amqp-url <url>', 'broker URL (default amqp://guest:guest@127.0.0.1:5672)')
  .option('--namespace <name>', 'pool namespace (default shoal)')
  .option('--transport <kind>', 'rabbitmq (default) or bullmq: what the pool runs on')
  .option('--redis-url <url>', 'Redis, for the bullmq transport (default redis://127.0.0.1:6379)')
  .showHelpAfterError();

async function main(): Promise<number> {
  program.parse();
  const opts = program.opts<{ drain?: string; amqpUrl?: string; namespace?: string; transport?: string; redisUrl?: string }>();
  const config = parseSettings({ ...commonSettings, ...redisSettings, ...transportSettings }, process.env, opts);
  requireRedisFor(config.transport, config.redisUrl);
  const topology = topologyFor(config.namespace);
  const logger = createLogger({ component: 'end-client' }, 'warn');
  const message: ControlMessage = opts.drain ? { type: 'drain', workerId: opts.drain } : { type: 'quit' };

  const target = { transport: config.transport, amqpUrl: config.amqpUrl, redisUrl: config.redisUrl, topology, deliveryLimit: config.deliveryLimit, logger };
  const { routed } = await sendControl(target, message);
  const what = message.type === 'quit' ? `quit to pool "${config.namespace}"` : `drain to worker ${message.workerId}`;
  const absent = message.type === 'quit' ? 'no worker or dispatcher is running' : `no worker ${message.workerId} is running in this pool`;
  process.stdout.write(routed ? `sent ${what}\n` : `sent ${what}, but nobody was listening (${absent})\n`);
  return 0;
}

runMain('shoal-quit', main);
