#!/usr/bin/env node
import type { Server } from 'node:http';
import { Command } from 'commander';
import { errorMessage } from '../infra/errors.js';
import { createLogger } from '../infra/log.js';
import { topologyFor } from '../infra/amqp/topology.js';
import { createRedis, whenReady } from '../infra/redis.js';
import { Autoscaler } from './autoscaler.js';
import { dispatcherSettings, parseDispatcherConfig, policyConfig, workerEnvironment } from './config.js';
import { PoolMetricsSource } from './metrics/source.js';
import { connectDispatcherLink } from '../infra/transport/factory.js';
import { defaultWindowOptions } from './metrics/window.js';
import { PROMOTE_AFTER_OBSERVATIONS } from './control/control-step.js';
import { policies } from './policy/index.js';
import { Pool, type PoolEvent } from './pool.js';
import { DispatcherMetrics } from './prometheus.js';
import { chooseRuntime } from './runtime-choice.js';
import { StatusStore } from './status-store.js';
import { renderLivePage } from './live-page.js';
import { TickRecorder } from './tick-recorder.js';
import { addSettingFlags, runMain } from '../infra/cli.js';
import { onShutdownSignals, signalExitCode } from '../infra/signals.js';

const program = addSettingFlags(
  new Command('shoal-dispatcher').description('Run a self-sizing pool of shoal workers; drain and remove them on SIGINT, SIGTERM or quit.'),
  dispatcherSettings,
).showHelpAfterError();

async function main(): Promise<void> {
  program.parse();
  const config = parseDispatcherConfig(process.env, program.opts());
  const logger = createLogger({ component: 'dispatcher', namespace: config.namespace });
  const topology = topologyFor(config.namespace);

  let shuttingDown: Promise<void> | undefined;
  const cleanups: (() => Promise<unknown>)[] = [];
  const shutdown = (reason: string) => {
    shuttingDown ??= (async () => {
      logger.info({ reason }, 'shutting down: draining every worker');
      for (const cleanup of cleanups.reverse()) await cleanup().catch((err: unknown) => logger.warn({ err: errorMessage(err) }, 'cleanup step failed'));
      logger.info('pool stopped; nothing left running');
      process.exit(0);
    })();
    return shuttingDown;
  };
  let forceStop: () => Promise<unknown> = async () => undefined;
  onShutdownSignals({
    graceful: (signal) => void shutdown(signal),
    forced: (signal) => {
      logger.warn({ signal }, 'second signal: killing workers now; their unacked requests go back to the queue');
      void forceStop().finally(() => process.exit(signalExitCode(signal)));
    },
  });

  // One child logger per component, so that their lines can be told apart.
  const onQuit = () => void shutdown('quit');
  const linkLogger = logger.child({ part: 'transport' });
  const link = await connectDispatcherLink({
    transport: config.transport, amqpUrl: config.amqpUrl, redisUrl: config.redisUrl, topology, deliveryLimit: config.deliveryLimit, logger: linkLogger, onQuit,
    managementUrl: config.managementUrl === 'off' ? undefined : config.managementUrl,
  });
  cleanups.push(() => link.close());
  // The Swarm runtime drains a chosen task with a control message, over the link.
  const runtime = await chooseRuntime(config, logger.child({ part: 'runtime' }), {
    requestDrain: (workerId) => link.send({ type: 'drain', workerId }),
  });
  cleanups.push(() => runtime.close());
  const redis = config.redisUrl === 'off' ? undefined : createRedis(config.redisUrl, `shoal dispatcher ${config.namespace}`, logger.child({ part: 'redis' }));
  if (redis) {
    cleanups.push(() => redis.quit());
    await whenReady(redis); // commands fail fast while it connects: the first events would be lost
  }

  const pool = new Pool({
    runtime,
    namespace: config.namespace,
    size: config.min,
    spares: config.spares,
    workerEnv: workerEnvironment(config),
    drainGraceMs: config.drainGraceMs,
    logger: logger.child({ part: 'pool' }),
    promote: (workerId) => link.send({ type: 'promote', workerId }),
  });
  forceStop = () => Promise.allSettled(pool.workerIds.map((id) => runtime.remove(id)));

  const prometheus = new DispatcherMetrics();
  const store = redis ? new StatusStore(redis, config.namespace) : undefined;
  const recorder = new TickRecorder({
    settings: { namespace: config.namespace, policy: config.policy, targetWaitP95Ms: config.targetWaitP95Ms, min: config.min, max: config.max, spares: config.spares, runtime: runtime.kind },
    members: () => pool.snapshot(),
    prometheus,
    store,
  });
  const served = await prometheus.serve(config.metricsHost, config.metricsPort, { page: renderLivePage(config.namespace), status: () => recorder.live() }).catch((err: Error) => {
    logger.warn({ err: err.message }, 'cannot serve Prometheus metrics; carrying on without them');
    return undefined;
  });
  if (served) {
    logger.info({ url: served.url, live: served.url.replace(/metrics$/, '') }, 'serving Prometheus metrics and a live page');
    cleanups.push(() => new Promise((resolve) => (served.server as Server).close(resolve)));
  }

  pool.on('event', (event: PoolEvent) => void store?.appendEvent({ at: Date.now(), ...event }));
  const autoscaler = new Autoscaler({
    pool,
    metrics: new PoolMetricsSource({ namespace: config.namespace, link, redis, logger: logger.child({ part: 'metrics' }) }),
    window: defaultWindowOptions,
    policy: policies[config.policy],
    config: policyConfig(config),
    promoteAfter: PROMOTE_AFTER_OBSERVATIONS,
    intervalMs: config.scaleIntervalMs,
    logger: logger.child({ part: 'autoscaler' }),
    onTick: (tick) => recorder.record(tick),
  });
  cleanups.push(() => pool.shutdown());
  cleanups.push(async () => autoscaler.stop());

  await pool.start();
  autoscaler.start();
  logger.info({ transport: config.transport, min: config.min, max: config.max, spares: config.spares, policy: config.policy, targetWaitP95Ms: config.targetWaitP95Ms, queue: topology.requestQueue }, 'pool running');
}

runMain('shoal-dispatcher', main);
