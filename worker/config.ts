import { randomUUID } from 'node:crypto';
import { commonSettings, duration, integer, oneOf, parseSettings, text, withUrlFiles, type ParsedSettings } from '../infra/config.js';
import { redisSettings } from '../infra/redis.js';
import { WORKER_ROLES } from '../infra/worker-role.js';
import { bullmqWorkerSettings, requireRedisFor, transportSettings } from '../infra/transport/settings.js';

/** Workers are configured by environment only: that is what a container gets. */
export const workerSettings = {
  ...commonSettings,
  ...redisSettings,
  ...transportSettings,
  ...bullmqWorkerSettings,
  workerId: {
    env: 'SHOAL_WORKER_ID',
    schema: text({ default: `worker-${randomUUID().slice(0, 8)}`, pattern: /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, hint: 'must be letters, digits, ".", "_" or "-"' }),
  },
  concurrency: { env: 'SHOAL_CONCURRENCY', schema: integer({ default: 4, min: 1, max: 1000 }) },
  role: { env: 'SHOAL_ROLE', schema: oneOf(WORKER_ROLES, 'worker') },
  handlers: { env: 'SHOAL_HANDLERS', schema: text({ default: '-' }) },
  /** How long its runtime lets it drain before killing it; 0: no limit (a worker run by hand). */
  drainGraceMs: { env: 'SHOAL_DRAIN_GRACE', schema: duration({ default: '0s', min: 0 }) },
  reportIntervalMs: { env: 'SHOAL_REPORT_INTERVAL_MS', schema: integer({ default: 1000, min: 100, max: 60_000 }) },
};

export type WorkerConfig = ParsedSettings<typeof workerSettings>;

export function parseWorkerConfig(env: NodeJS.ProcessEnv): WorkerConfig {
  const config = parseSettings(workerSettings, withUrlFiles(env));
  requireRedisFor(config.transport, config.redisUrl);
  return config;
}
