#!/usr/bin/env node
import { createLogger } from '../infra/log.js';
import { topologyFor } from '../infra/amqp/topology.js';
import { parseWorkerConfig } from './config.js';
import { loadJobHandlers } from './jobs.js';
import { createConsumer } from '../infra/transport/factory.js';
import { HostedWorker } from './hosted-worker.js';
import { runMain } from '../infra/cli.js';
import { onShutdownSignals, signalExitCode } from '../infra/signals.js';

/**
 * The worker process, as run inside each container. Configured by environment
 * (see worker/config.ts). Exits 0 after a graceful drain (SIGTERM, SIGINT, or
 * a drain/quit control message); a second signal of either kind forces an
 * immediate exit.
 */
async function main(): Promise<void> {
  const config = parseWorkerConfig(process.env);
  const logger = createLogger({ component: 'worker', workerId: config.workerId });
  const handlers = await loadJobHandlers(config.handlers === '-' ? undefined : config.handlers);
  const consumer = await createConsumer({
    transport: config.transport,
    amqpUrl: config.amqpUrl,
    redisUrl: config.redisUrl,
    topology: topologyFor(config.namespace),
    deliveryLimit: config.deliveryLimit,
    workerId: config.workerId,
    concurrency: config.concurrency,
    bullmq: { lockDurationMs: config.bullmqLockDurationMs, stalledIntervalMs: config.bullmqStalledIntervalMs, maxStalledCount: config.bullmqMaxStalledCount },
    logger,
  });
  const worker = new HostedWorker({
    workerId: config.workerId,
    consumer,
    deliveryLimit: config.deliveryLimit,
    maxBodyBytes: config.maxBodyBytes,
    drainGraceMs: config.drainGraceMs,
    role: config.role,
    handlers,
    logger,
    reports: config.redisUrl === 'off' ? undefined : { redisUrl: config.redisUrl, namespace: config.namespace, intervalMs: config.reportIntervalMs },
  });

  void worker.closed.then(() => process.exit(0));
  onShutdownSignals({
    graceful: (signal) => void worker.close(signal),
    forced: (signal) => {
      logger.warn({ signal }, 'second signal: exiting now; unacked requests go back to the queue');
      process.exit(signalExitCode(signal));
    },
  });

  // A drain that comes while it starts: it never consumes, never reports, and exits.
  await worker.start();
  if (process.env.SHOAL_EXIT_WITH_PARENT === '1') exitWithParent(() => void worker.close('parent exited'));
}

/** A local-process worker drains and exits when the dispatcher that started it dies. */
function exitWithParent(onOrphaned: () => void): void {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid !== parent) {
      clearInterval(timer);
      onOrphaned();
    }
  }, 1000);
  timer.unref();
}

runMain('shoal-worker', main);
