#!/usr/bin/env node
import { Command } from 'commander';
import { commonSettings, parseSettings } from '../infra/config.js';
import { redisSettings } from '../infra/redis.js';
import { sendControl } from '../infra/transport/factory.js';
import { requireRedisFor, transportSettings } from '../infra/transport/settings.js';
import { createLogger } from '../infra/log.js';
import { topologyFor } from '../infra/amqp/topology.js';
import type { ControlMessage } from '../infra/protocol.js';
import { addSettingFlags, runMain } from '../infra/cli.js';

/**
 * The end-client: tells the whole pool to quit (every worker drains and exits,
 * and the dispatcher removes what it started), or drains a single worker.
 */
const { amqpUrl, namespace, deliveryLimit } = commonSettings;
const quitSettings = { amqpUrl, namespace, deliveryLimit: { env: deliveryLimit.env, schema: deliveryLimit.schema }, ...redisSettings, ...transportSettings };
const program = addSettingFlags(
  new Command('shoal-quit')
    .description('Send quit to every worker and dispatcher of a pool, or drain one worker.')
    .option('--drain <workerId>', 'drain just this worker instead of quitting the pool'),
  quitSettings,
).showHelpAfterError();

async function main(): Promise<number> {
  program.parse();
  const opts = program.opts<{ drain?: string }>();
  const config = parseSettings(quitSettings, process.env, opts);
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
