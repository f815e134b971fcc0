#!/usr/bin/env node
import type { RecoveringChannelModel } from 'amqplib';
import { Command } from 'commander';
import { ConfigError } from '../infra/config.js';
import { createLogger } from '../infra/log.js';
import { topologyFor } from '../infra/protocol.js';
import { parseDispatcherConfig, workerEnvironment } from './config.js';
import { listenForQuit } from './control.js';
import { Pool } from './pool.js';
import { chooseRuntime } from './runtime-choice.js';

const program = new Command('shoal-dispatcher')
  .description('Run a pool of shoal workers; drain and remove them on SIGINT, SIGTERM or quit.')
  .option('--min <n>', 'workers to keep running (default 1)')
  .option('--max <n>', 'upper bound of the pool (default 1; must be >= --min)')
  .option('--runtime <kind>', 'auto, docker or process (default auto)')
  .option('--worker-concurrency <n>', 'jobs each worker runs at once (default 4)')
  .option('--drain-grace <duration>', 'how long a draining worker may take before it is killed (default 30s)')
  .option('--handlers <module>', 'path of a module with custom job handlers, loaded by every worker (process runtime)')
  .option('--image <name>', 'worker image for the Docker runtime (default shoal/worker:latest)')
  .option('--worker-memory <size>', 'memory limit of each worker container (default 256m)')
  .option('--worker-cpus <n>', 'CPU limit of each worker container (default 1)')
  .option('--amqp-url <url>', 'broker URL (default amqp://guest:guest@127.0.0.1:5672)')
  .option('--redis-url <url>', 'Redis URL for worker reports, or "off" (default redis://127.0.0.1:6379)')
  .option('--namespace <name>', 'pool namespace: names its queues, exchanges and labels (default shoal)')
  .showHelpAfterError();

async function main(): Promise<void> {
  program.parse();
  const config = parseDispatcherConfig(process.env, program.opts());
  const logger = createLogger({ component: 'dispatcher', namespace: config.namespace });
  const topology = topologyFor(config.namespace);
  if (config.max > config.min) {
    logger.warn({ min: config.min, max: config.max }, 'this version keeps a static pool of --min workers; autoscaling up to --max is not built yet');
  }
  const runtime = await chooseRuntime(config, logger);

  const pool = new Pool({
    runtime,
    namespace: config.namespace,
    size: config.min,
    workerEnv: workerEnvironment(config),
    drainGraceMs: config.drainGraceMs,
    logger,
  });

  let control: RecoveringChannelModel | undefined;
  let shuttingDown: Promise<void> | undefined;
  const shutdown = (reason: string) => {
    shuttingDown ??= (async () => {
      logger.info({ reason }, 'shutting down: draining every worker');
      await pool.shutdown();
      await runtime.close();
      await control?.close().catch(() => undefined);
      logger.info('pool stopped; nothing left running');
      process.exit(0);
    })();
    return shuttingDown;
  };
  let interrupts = 0;
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => {
    if (++interrupts > 1) {
      logger.warn('second SIGINT: killing workers now; their unacked requests go back to the queue');
      void Promise.allSettled(pool.workerIds.map((id) => runtime.remove(id))).then(() => process.exit(130));
      return;
    }
    void shutdown('SIGINT');
  });

  control = await listenForQuit({
    amqpUrl: config.amqpUrl,
    topology,
    deliveryLimit: config.deliveryLimit,
    logger,
    onQuit: () => void shutdown('quit'),
  });
  await pool.start();
  logger.info({ workers: pool.workerIds.length, queue: topology.requestQueue }, 'pool running');
}

main().catch((err: unknown) => {
  process.stderr.write(`shoal-dispatcher: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(err instanceof ConfigError ? 2 : 1);
});
