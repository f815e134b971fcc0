#!/usr/bin/env node
import type { Server } from 'node:http';
import { Command } from 'commander';
import { errorMessage } from '../infra/errors.js';
import { createLogger } from '../infra/log.js';
import { topologyFor } from '../infra/protocol.js';
import { createRedis, whenReady } from '../infra/redis.js';
import { Autoscaler } from './autoscaler.js';
import { parseDispatcherConfig, policyConfig, workerEnvironment } from './config.js';
import { PoolMetricsSource } from './metrics/source.js';
import { BullmqDispatcherLink } from '../infra/transport/index.js';
import { RabbitDispatcherLink } from '../infra/transport/rabbitmq/dispatcher-link.js';
import type { DispatcherLink } from '../infra/transport/types.js';
import { defaultWindowOptions } from './metrics/window.js';
import { PROMOTE_AFTER_OBSERVATIONS } from './control/control-step.js';
import { policies } from './policy/index.js';
import { Pool, type PoolEvent } from './pool.js';
import { DispatcherMetrics } from './prometheus.js';
import { chooseRuntime } from './runtime-choice.js';
import { StatusStore, type PoolStatus } from './status-store.js';
import { renderLivePage, type HistoryPoint } from './live-page.js';
import { runMain } from '../infra/cli.js';

/** Ten minutes of one-second ticks for the live page. */
/** Ten minutes of the live page at the default 250 ms interval. */
const LIVE_HISTORY_TICKS = 2400;

const program = new Command('shoal-dispatcher')
  .description('Run a self-sizing pool of shoal workers; drain and remove them on SIGINT, SIGTERM or quit.')
  .option('--min <n>', 'fewest regular workers (default 1)')
  .option('--max <n>', 'most regular workers (default 10; must be >= --min)')
  .option('--spares <n>', 'warm spares kept on top, consuming at a low priority (default 1)')
  .option('--policy <name>', 'target-wait (default), latency-threshold or queue-length')
  .option('--target-wait-p95 <duration>', 'keep the p95 queue wait under this (default 200ms)')
  .option('--scale-interval <duration>', 'how often to observe and decide (default 250ms)')
  .option('--scale-down-window <duration>', 'no scale-down for this long after any increase, then only to the highest need of this window (default 5s)')
  .option('--max-step-up <n>', 'workers added per decision at most, or the current count if larger (default 1000: --max is the guard)')
  .option('--max-step-down <n>', 'workers that may go in one decision however small the pool (default 1)')
  .option('--burst-memory <duration>', 'adaptive spares: keep warm headroom for the largest surge seen within this long (default 0s: off)')
  .option('--scale-down-share <share>', 'share of the pool that may go in one decision, as the HPA\'s percent policy (default 0.5)')
  .option('--backlog-drain <duration>', 'target-wait: clear an existing backlog within this (default 500ms)')
  .option('--target-queue-length <n>', 'queue-length: messages per worker (default 5)')
  .option('--runtime <kind>', 'auto, docker, swarm or process (default auto)')
  .option('--amqp-url-secret <name>', 'swarm: a Swarm secret holding the broker URL, given to workers as a file instead of SHOAL_AMQP_URL')
  .option('--redis-url-secret <name>', 'swarm: a Swarm secret holding the Redis URL, given to workers as a file instead of SHOAL_REDIS_URL')
  .option('--worker-concurrency <n>', 'jobs each worker runs at once (default 4)')
  .option('--drain-grace <duration>', 'how long a draining worker may take before it is killed (default 30s)')
  .option('--handlers <module>', 'path of a module with custom job handlers, loaded by every worker (process runtime)')
  .option('--image <name>', 'worker image for the Docker runtime (default shoal/worker:latest)')
  .option('--worker-memory <size>', 'memory limit of each worker container (default 256m)')
  .option('--worker-cpus <n>', 'CPU limit of each worker container (default 1)')
  .option('--management-url <url>', 'RabbitMQ management API, or "off" (default http://guest:guest@127.0.0.1:15672)')
  .option('--metrics-host <host>', 'where /metrics listens (default 127.0.0.1)')
  .option('--metrics-port <port>', 'Prometheus /metrics port; 0 picks a free one (default 9464)')
  .option('--transport <kind>', 'rabbitmq (default) or bullmq: what carries the requests; the workers get the same')
  .option('--amqp-url <url>', 'broker URL (default amqp://guest:guest@127.0.0.1:5672)')
  .option('--redis-url <url>', 'Redis for worker reports, status and events, or "off" (default redis://127.0.0.1:6379)')
  .option('--namespace <name>', 'pool namespace: names its queues, exchanges and labels (default shoal)')
  .showHelpAfterError();

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
  let interrupts = 0;
  let forceStop: () => Promise<unknown> = async () => undefined;
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => {
    if (++interrupts > 1) {
      logger.warn('second SIGINT: killing workers now; their unacked requests go back to the queue');
      void forceStop().finally(() => process.exit(130));
      return;
    }
    void shutdown('SIGINT');
  });

  // The Swarm runtime drains a chosen task with a control message, over the link connected right after.
  let drainLink: DispatcherLink | undefined;
  const runtime = await chooseRuntime(config, logger, {
    requestDrain: async (workerId) => (drainLink ? drainLink.send({ type: 'drain', workerId }) : false),
  });
  cleanups.push(() => runtime.close());
  const onQuit = () => void shutdown('quit');
  const link: DispatcherLink = config.transport === 'bullmq'
    ? await BullmqDispatcherLink.connect({ redisUrl: config.redisUrl, namespace: config.namespace, logger, onQuit })
    : await RabbitDispatcherLink.connect({ amqpUrl: config.amqpUrl, topology, deliveryLimit: config.deliveryLimit, logger, onQuit, managementUrl: config.managementUrl === 'off' ? undefined : config.managementUrl });
  drainLink = link;
  cleanups.push(() => link.close());
  const redis = config.redisUrl === 'off' ? undefined : createRedis(config.redisUrl, `shoal dispatcher ${config.namespace}`, logger);
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
    logger,
    promote: (workerId) => link.send({ type: 'promote', workerId }),
  });
  forceStop = () => Promise.allSettled(pool.workerIds.map((id) => runtime.remove(id)));

  const prometheus = new DispatcherMetrics();
  let latestStatus: PoolStatus | undefined;
  const history: HistoryPoint[] = [];
  const live = { page: renderLivePage(config.namespace), status: () => ({ status: latestStatus, history }) };
  const served = await prometheus.serve(config.metricsHost, config.metricsPort, live).catch((err: Error) => {
    logger.warn({ err: err.message }, 'cannot serve Prometheus metrics; carrying on without them');
    return undefined;
  });
  if (served) {
    logger.info({ url: served.url, live: served.url.replace(/metrics$/, '') }, 'serving Prometheus metrics and a live page');
    cleanups.push(() => new Promise((resolve) => (served.server as Server).close(resolve)));
  }

  const status = redis ? new StatusStore(redis, config.namespace) : undefined;
  pool.on('event', (event: PoolEvent) => void status?.appendEvent({ at: Date.now(), ...event }));
  const decisions: PoolStatus['decisions'] = [];
  const autoscaler = new Autoscaler({
    pool,
    metrics: new PoolMetricsSource({ namespace: config.namespace, link, redis, logger }),
    window: defaultWindowOptions,
    policy: policies[config.policy],
    config: policyConfig(config),
    promoteAfter: PROMOTE_AFTER_OBSERVATIONS,
    intervalMs: config.scaleIntervalMs,
    logger,
    onTick: (tick) => {
      const members = pool.snapshot();
      prometheus.record(tick, members);
      if (tick.changed) {
        decisions.unshift({ at: tick.at, reason: tick.decision.reason });
        decisions.splice(20);
        void status?.appendEvent({ at: tick.at, type: 'decision', from: tick.pool.active + tick.pool.starting, to: tick.decision.desired, reason: tick.decision.reason });
      }
      const counts = { regular: 0, spares: 0, draining: 0 };
      for (const m of members) counts[m.state === 'draining' ? 'draining' : m.role === 'spare' ? 'spares' : 'regular']++;
      history.push({ at: tick.at, ...counts, desired: tick.decision.desired, backlog: tick.observation.backlog, arrivalRate: tick.observation.arrivalRate, waitP95Ms: tick.observation.waitP95Ms ?? null });
      if (history.length > LIVE_HISTORY_TICKS) history.shift();
      latestStatus = {
        at: tick.at,
        namespace: config.namespace,
        policy: config.policy,
        targetWaitP95Ms: config.targetWaitP95Ms,
        min: config.min,
        max: config.max,
        spares: config.spares,
        runtime: runtime.kind,
        observation: tick.observation,
        desired: tick.decision.desired,
        members,
        decisions,
      };
      void status?.writeStatus(latestStatus);
    },
  });
  cleanups.push(() => pool.shutdown());
  cleanups.push(async () => autoscaler.stop());

  await pool.start();
  autoscaler.start();
  logger.info({ transport: config.transport, min: config.min, max: config.max, spares: config.spares, policy: config.policy, targetWaitP95Ms: config.targetWaitP95Ms, queue: topology.requestQueue }, 'pool running');
}

runMain('shoal-dispatcher', main);
