import { duration, integer, oneOf, requireThat } from '../config.js';
import { TRANSPORTS, type TransportKind } from './types.js';

/** Which transport carries requests; every component of a pool must use the same one. */
export const transportSettings = {
  transport: { env: 'SHOAL_TRANSPORT', flag: '--transport', help: 'rabbitmq or bullmq: what carries the requests', schema: oneOf(TRANSPORTS, 'rabbitmq') },
};

/** BullMQ's stalled-job settings for workers (environment only; the dispatcher passes them on). */
export const bullmqWorkerSettings = {
  bullmqLockDurationMs: { env: 'SHOAL_BULLMQ_LOCK_DURATION', schema: duration({ default: '30s', min: 100 }) },
  bullmqStalledIntervalMs: { env: 'SHOAL_BULLMQ_STALLED_INTERVAL', schema: duration({ default: '30s', min: 100 }) },
  bullmqMaxStalledCount: { env: 'SHOAL_BULLMQ_MAX_STALLED', schema: integer({ default: 1, min: 0, max: 100 }) },
};

/** BullMQ keeps its queue in Redis: it cannot run with Redis switched off. */
export function requireRedisFor(transport: TransportKind, redisUrl: string): void {
  requireThat(
    transport !== 'bullmq' || redisUrl !== 'off',
    'SHOAL_REDIS_URL (--redis-url) cannot be "off" with SHOAL_TRANSPORT (--transport) bullmq: BullMQ keeps its queue in Redis',
  );
}
