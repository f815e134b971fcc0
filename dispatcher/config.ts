import { byteSize, commonSettings, duration, integer, oneOf, optionalNumber, parseSettings, requireThat, text, type ParsedSettings } from '../infra/config.js';
import { redisSettings } from '../infra/redis.js';

export const dispatcherSettings = {
  ...commonSettings,
  ...redisSettings,
  min: { env: 'SHOAL_MIN_WORKERS', flag: '--min', schema: integer({ default: 1, min: 0, max: 1000 }) },
  max: { env: 'SHOAL_MAX_WORKERS', flag: '--max', schema: integer({ default: 1, min: 1, max: 1000 }) },
  runtime: { env: 'SHOAL_RUNTIME', flag: '--runtime', schema: oneOf(['auto', 'docker', 'process'], 'auto') },
  workerConcurrency: { env: 'SHOAL_CONCURRENCY', flag: '--worker-concurrency', schema: integer({ default: 4, min: 1, max: 1000 }) },
  drainGraceMs: { env: 'SHOAL_DRAIN_GRACE', flag: '--drain-grace', schema: duration({ default: '30s', min: 100 }) },
  handlers: { env: 'SHOAL_HANDLERS', flag: '--handlers', schema: text({ default: '-' }) },
  image: { env: 'SHOAL_WORKER_IMAGE', flag: '--image', schema: text({ default: 'shoal/worker:latest' }) },
  workerMemoryBytes: { env: 'SHOAL_WORKER_MEMORY', flag: '--worker-memory', schema: byteSize({ default: '256m', min: 32 * 1024 * 1024 }) },
  workerCpus: { env: 'SHOAL_WORKER_CPUS', flag: '--worker-cpus', schema: optionalNumber({ min: 0.01 }).default(1) },
};

export type DispatcherConfig = ParsedSettings<typeof dispatcherSettings>;

export function parseDispatcherConfig(env: NodeJS.ProcessEnv, flags: Record<string, unknown>): DispatcherConfig {
  const config = parseSettings(dispatcherSettings, env, flags);
  requireThat(config.max >= config.min, `SHOAL_MAX_WORKERS (--max) must be >= SHOAL_MIN_WORKERS (--min) (got ${config.max} < ${config.min})`);
  return config;
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
  };
  if (config.handlers !== '-') env.SHOAL_HANDLERS = config.handlers;
  if (process.env.SHOAL_LOG_LEVEL) env.SHOAL_LOG_LEVEL = process.env.SHOAL_LOG_LEVEL;
  return env;
}
