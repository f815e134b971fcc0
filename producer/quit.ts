#!/usr/bin/env node
import { Command } from 'commander';
import type { ConfirmChannel } from 'amqplib';
import { publishControl } from '../infra/amqp/control.js';
import { connectBroker } from '../infra/amqp/connection.js';
import { assertTopology } from '../infra/amqp/topology.js';
import { commonSettings, parseSettings } from '../infra/config.js';
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
  .showHelpAfterError();

async function main(): Promise<number> {
  program.parse();
  const opts = program.opts<{ drain?: string; amqpUrl?: string; namespace?: string }>();
  const config = parseSettings(commonSettings, process.env, opts);
  const topology = topologyFor(config.namespace);
  const logger = createLogger({ component: 'end-client' }, process.env.SHOAL_LOG_LEVEL ?? 'warn');
  const message: ControlMessage = opts.drain ? { type: 'drain', workerId: opts.drain } : { type: 'quit' };

  let channel: ConfirmChannel | undefined;
  const connection = await connectBroker({
    url: config.amqpUrl,
    name: 'shoal end-client',
    logger,
    initialMaxRetries: 2,
    setup: async (model) => {
      channel = await model.createConfirmChannel();
      await assertTopology(channel, topology, { deliveryLimit: config.deliveryLimit });
    },
  });
  try {
    const { routed } = await publishControl(channel!, topology, message);
    const what = message.type === 'quit' ? `quit to pool "${config.namespace}"` : `drain to worker ${message.workerId}`;
    process.stdout.write(routed ? `sent ${what}\n` : `sent ${what}, but nobody was listening (no worker or dispatcher is running)\n`);
  } finally {
    await channel?.close().catch(() => undefined);
    await connection.close();
  }
  return 0;
}

runMain('shoal-quit', main);
