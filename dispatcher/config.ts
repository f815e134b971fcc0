import { byteSize, commonSettings, share, withUrlFiles, duration, integer, number, oneOf, parseSettings, requireThat, text, url, type ParsedSettings } from '../infra/config.js';
import { defaultPolicyConfig as defaults, POLICY_NAMES, type PolicyConfig } from './policy/index.js';
import { redisSettings } from '../infra/redis.js';
import { LOG_LEVEL_ENV } from '../infra/log.js';
import { bullmqWorkerSettings, requireRedisFor, transportSettings } from '../infra/transport/settings.js';

/** The scaling defaults are the policy's own (defaultPolicyConfig), so that the simulator and the CLI agree. */
export const dispatcherSettings = {
  ...commonSettings,
  ...redisSettings,
  ...transportSettings,
  ...bullmqWorkerSettings,
  min: { env: 'SHOAL_MIN_WORKERS', flag: '--min', help: 'fewest regular workers', schema: integer({ default: defaults.min, min: 0, max: 1000 }) },
  max: { env: 'SHOAL_MAX_WORKERS', flag: '--max', help: 'most regular workers (must be >= --min)', schema: integer({ default: defaults.max, min: 1, max: 1000 }) },
  spares: { env: 'SHOAL_SPARES', flag: '--spares', help: 'warm spares kept on top, consuming at a low priority', schema: integer({ default: 1, min: 0, max: 100 }) },
  policy: { env: 'SHOAL_POLICY', flag: '--policy', help: 'target-wait, latency-threshold or queue-length', schema: oneOf(POLICY_NAMES, 'target-wait') },
  targetWaitP95Ms: { env: 'SHOAL_TARGET_WAIT_P95', flag: '--target-wait-p95', help: 'keep the p95 queue wait under this', schema: duration({ default: defaults.targetWaitP95Ms, min: 1 }) },
  scaleIntervalMs: { env: 'SHOAL_SCALE_INTERVAL', flag: '--scale-interval', help: 'how often to observe and decide', schema: duration({ default: '250ms', min: 100 }) },
  scaleDownWindowMs: { env: 'SHOAL_SCALE_DOWN_WINDOW', flag: '--scale-down-window', help: 'no scale-down for this long after any increase, then only to the highest need of this window', schema: duration({ default: defaults.scaleDownStabilizationMs, min: 0 }) },
  maxStepUp: { env: 'SHOAL_MAX_STEP_UP', flag: '--max-step-up', help: 'workers added per decision at most, or the current count if larger (--max is the guard)', schema: integer({ default: defaults.maxStepUp, min: 1, max: 100_000 }) },
  maxStepDown: { env: 'SHOAL_MAX_STEP_DOWN', flag: '--max-step-down', help: 'workers that may go in one decision however small the pool', schema: integer({ default: defaults.maxStepDown, min: 1, max: 1000 }) },
  scaleDownShare: { env: 'SHOAL_SCALE_DOWN_SHARE', flag: '--scale-down-share', help: "share of the pool that may go in one decision, as the HPA's percent policy", schema: share({ default: defaults.scaleDownShare }) },
  burstMemoryMs: { env: 'SHOAL_BURST_MEMORY', flag: '--burst-memory', help: 'adaptive spares: keep warm headroom for the largest surge seen within this long (0s: off)', schema: duration({ default: defaults.burstMemoryMs, min: 0 }) },
  backlogDrainMs: { env: 'SHOAL_BACKLOG_DRAIN', flag: '--backlog-drain', help: 'target-wait: clear an existing backlog within this', schema: duration({ default: defaults.backlogDrainMs, min: 50 }) },
  targetQueueLength: { env: 'SHOAL_TARGET_QUEUE_LENGTH', flag: '--target-queue-length', help: 'queue-length: messages per worker', schema: integer({ default: defaults.targetQueueLength, min: 1, max: 100_000 }) },
  managementUrl: {
    env: 'SHOAL_MANAGEMENT_URL',
    flag: '--management-url',
    help: 'RabbitMQ management API, or "off"',
    schema: url({ default: 'http://guest:guest@127.0.0.1:15672', protocols: ['http', 'https'], orLiteral: 'off' }),
  },
  metricsHost: { env: 'SHOAL_METRICS_HOST', flag: '--metrics-host', help: 'where /metrics listens', schema: text({ default: '127.0.0.1' }) },
  metricsPort: { env: 'SHOAL_METRICS_PORT', flag: '--metrics-port', help: 'Prometheus /metrics port; 0 picks a free one', schema: integer({ default: 9464, min: 0, max: 65535 }) },
  runtime: { env: 'SHOAL_RUNTIME', flag: '--runtime', help: 'auto, docker, swarm or process', schema: oneOf(['auto', 'docker', 'swarm', 'process'], 'auto') },
  amqpUrlSecret: { env: 'SHOAL_AMQP_URL_SECRET', flag: '--amqp-url-secret', help: 'swarm: a Swarm secret holding the broker URL, given to workers as a file instead of SHOAL_AMQP_URL', schema: text({ default: '-' }) },
  redisUrlSecret: { env: 'SHOAL_REDIS_URL_SECRET', flag: '--redis-url-secret', help: 'swarm: a Swarm secret holding the Redis URL, given to workers as a file instead of SHOAL_REDIS_URL', schema: text({ default: '-' }) },
  workerConcurrency: { env: 'SHOAL_CONCURRENCY', flag: '--worker-concurrency', help: 'jobs each worker runs at once', schema: integer({ default: defaults.concurrency, min: 1, max: 1000 }) },
  drainGraceMs: { env: 'SHOAL_DRAIN_GRACE', flag: '--drain-grace', help: 'how long a draining worker may take before it is killed', schema: duration({ default: '30s', min: 100 }) },
  handlers: { env: 'SHOAL_HANDLERS', flag: '--handlers', help: 'path of a module with custom job handlers, loaded by every worker (process runtime)', schema: text({ default: '-' }) },
  image: { env: 'SHOAL_WORKER_IMAGE', flag: '--image', help: 'worker image for the Docker runtime', schema: text({ default: 'shoal/worker:latest' }) },
  workerMemoryBytes: { env: 'SHOAL_WORKER_MEMORY', flag: '--worker-memory', help: 'memory limit of each worker container', schema: byteSize({ default: '256m', min: 32 * 1024 * 1024 }) },
  workerCpus: { env: 'SHOAL_WORKER_CPUS', flag: '--worker-cpus', help: 'CPU limit of each worker container', schema: number({ default: 1, min: 0.01 }) },
  /** How long one Docker engine call may take (infra/runtime/engine-timeout.ts). */
  dockerTimeoutMs: { env: 'SHOAL_DOCKER_TIMEOUT', schema: duration({ default: '30s', min: 1 }) },
};

export type DispatcherConfig = ParsedSettings<typeof dispatcherSettings>;

export function parseDispatcherConfig(env: NodeJS.ProcessEnv, flags: Record<string, unknown>): DispatcherConfig {
  const config = parseSettings(dispatcherSettings, withUrlFiles(env), flags);
  requireRedisFor(config.transport, config.redisUrl);
  requireThat(config.max >= config.min, `SHOAL_MAX_WORKERS (--max) must be >= SHOAL_MIN_WORKERS (--min) (got ${config.max} < ${config.min})`);
  return config;
}

export function policyConfig(config: DispatcherConfig): PolicyConfig {
  return {
    min: config.min,
    max: config.max,
    concurrency: config.workerConcurrency,
    targetWaitP95Ms: config.targetWaitP95Ms,
    maxStepUp: config.maxStepUp,
    maxStepDown: config.maxStepDown,
    scaleDownShare: config.scaleDownShare,
    burstMemoryMs: config.burstMemoryMs,
    scaleDownStabilizationMs: config.scaleDownWindowMs,
    backlogDrainMs: config.backlogDrainMs,
    targetQueueLength: config.targetQueueLength,
  };
}

/** The environment each worker is started with: everything it needs, nothing baked into an image. */
export function workerEnvironment(config: DispatcherConfig): Record<string, string> {
  const env: Record<string, string> = {
    SHOAL_AMQP_URL: config.amqpUrl,
    SHOAL_NAMESPACE: config.namespace,
    SHOAL_REDIS_URL: config.redisUrl,
    SHOAL_CONCURRENCY: String(config.workerConcurrency),
    SHOAL_DELIVERY_LIMIT: String(config.deliveryLimit),
    SHOAL_MAX_BODY_BYTES: String(config.maxBodyBytes),
    SHOAL_TRANSPORT: config.transport,
    // The worker cancels what it still runs shortly before this runs out (worker/cancellation.ts).
    SHOAL_DRAIN_GRACE: String(config.drainGraceMs),
  };
  if (config.transport === 'bullmq') {
    env.SHOAL_BULLMQ_LOCK_DURATION = String(config.bullmqLockDurationMs);
    env.SHOAL_BULLMQ_STALLED_INTERVAL = String(config.bullmqStalledIntervalMs);
    env.SHOAL_BULLMQ_MAX_STALLED = String(config.bullmqMaxStalledCount);
  }
  if (config.handlers !== '-') env.SHOAL_HANDLERS = config.handlers;
  const logLevel = process.env[LOG_LEVEL_ENV];
  if (logLevel) env[LOG_LEVEL_ENV] = logLevel; // the workers log as their dispatcher does
  return env;
}
