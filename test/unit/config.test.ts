import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, flagKey, parseDurationMs } from '../../infra/config.js';
import { parseDispatcherConfig, workerEnvironment } from '../../dispatcher/config.js';
import { parseProducerConfig } from '../../producer/config.js';
import { parseWorkerConfig } from '../../worker/config.js';

describe('durations', () => {
  it.each([
    ['250', 250],
    ['250ms', 250],
    ['1.5s', 1500],
    ['2m', 120_000],
    [' 5 s ', 5000],
    ['soon', undefined],
    ['-1s', undefined],
  ])('%j -> %j', (text, ms) => expect(parseDurationMs(text)).toBe(ms));
});

describe('flag keys', () => {
  it.each([
    ['--drain-grace', 'drainGrace'],
    ['--no-progress', 'progress'],
    ['--amqp-url', 'amqpUrl'],
  ])('%s -> %s', (flag, key) => expect(flagKey(flag)).toBe(key));
});

describe('producer config', () => {
  it('has the classic 1000-request defaults', () => {
    expect(parseProducerConfig({}, {})).toMatchObject({ count: 1000, concurrency: 32, job: 'echo', payload: null, timeoutMs: 30_000, namespace: 'shoal' });
  });

  it('lets flags win over the environment', () => {
    expect(parseProducerConfig({ SHOAL_COUNT: '10' }, { count: '20' }).count).toBe(20);
    expect(parseProducerConfig({ SHOAL_COUNT: '10' }, {}).count).toBe(10);
  });

  it('reports every problem at once, naming the variable, the flag and the value', () => {
    let error: ConfigError | undefined;
    try {
      parseProducerConfig({ SHOAL_AMQP_URL: 'http://x' }, { count: '-1', concurrency: '1.5', rate: '0' });
    } catch (err) {
      error = err as ConfigError;
    }
    expect(error?.problems).toEqual([
      'SHOAL_AMQP_URL (--amqp-url) must be a URL starting with amqp:// or amqps:// (got "http://x")',
      'SHOAL_COUNT (--count) must be >= 1 (got "-1")',
      'SHOAL_PRODUCER_CONCURRENCY (--concurrency) must be a whole number (got "1.5")',
      'SHOAL_RATE (--rate) must be >= 0.001 (got "0")',
    ]);
  });
});

describe('dispatcher config', () => {
  it('rejects min > max with the numbers', () => {
    expect(() => parseDispatcherConfig({ SHOAL_MIN_WORKERS: '3' }, { max: '2' })).toThrow(
      'SHOAL_MAX_WORKERS (--max) must be >= SHOAL_MIN_WORKERS (--min) (got 2 < 3)',
    );
  });

  it('passes its --handlers and --drain-grace on to its workers, as SHOAL_HANDLERS and SHOAL_DRAIN_GRACE', () => {
    const config = parseDispatcherConfig({}, { handlers: './dist/handlers.js', drainGrace: '45s' });
    expect(workerEnvironment(config)).toMatchObject({ SHOAL_HANDLERS: './dist/handlers.js', SHOAL_DRAIN_GRACE: '45000' });
    expect(workerEnvironment(parseDispatcherConfig({}, {}))).not.toHaveProperty('SHOAL_HANDLERS');
  });

  it('passes workers what they need through the environment', () => {
    const config = parseDispatcherConfig({}, { min: '2', max: '2', workerConcurrency: '8', namespace: 'pool-a' });
    expect(workerEnvironment(config)).toMatchObject({ SHOAL_NAMESPACE: 'pool-a', SHOAL_CONCURRENCY: '8', SHOAL_AMQP_URL: 'amqp://guest:guest@127.0.0.1:5672' });
  });
});

describe('worker config', () => {
  it('accepts "off" for Redis and rejects other non-URLs', () => {
    expect(parseWorkerConfig({ SHOAL_REDIS_URL: 'off' }).redisUrl).toBe('off');
    expect(() => parseWorkerConfig({ SHOAL_REDIS_URL: 'localhost' })).toThrow('SHOAL_REDIS_URL (--redis-url) must be a URL starting with redis:// or rediss:// or "off"');
  });
});

describe('transport config', () => {
  it('defaults to rabbitmq and takes bullmq from the flag or SHOAL_TRANSPORT', () => {
    expect(parseProducerConfig({}, {}).transport).toBe('rabbitmq');
    expect(parseProducerConfig({}, { transport: 'bullmq' }).transport).toBe('bullmq');
    expect(parseWorkerConfig({ SHOAL_TRANSPORT: 'bullmq' }).transport).toBe('bullmq');
    expect(() => parseProducerConfig({ SHOAL_TRANSPORT: 'kafka' }, {})).toThrow('SHOAL_TRANSPORT (--transport) must be one of rabbitmq, bullmq (got "kafka")');
  });

  it('refuses bullmq without Redis', () => {
    expect(() => parseWorkerConfig({ SHOAL_TRANSPORT: 'bullmq', SHOAL_REDIS_URL: 'off' })).toThrow('cannot be "off" with SHOAL_TRANSPORT (--transport) bullmq');
  });

  it('the dispatcher passes the transport and BullMQ stall settings to its workers', () => {
    const env = workerEnvironment(parseDispatcherConfig({ SHOAL_BULLMQ_LOCK_DURATION: '2s' }, { transport: 'bullmq' }));
    expect(env).toMatchObject({ SHOAL_TRANSPORT: 'bullmq', SHOAL_BULLMQ_LOCK_DURATION: '2000', SHOAL_BULLMQ_STALLED_INTERVAL: '30000', SHOAL_BULLMQ_MAX_STALLED: '1' });
    expect(parseWorkerConfig(env)).toMatchObject({ transport: 'bullmq', bullmqLockDurationMs: 2000, bullmqStalledIntervalMs: 30_000, bullmqMaxStalledCount: 1 });
    expect(workerEnvironment(parseDispatcherConfig({}, {})).SHOAL_TRANSPORT).toBe('rabbitmq');
  });
});

describe('the broker URL from a file (a Swarm secret)', () => {
  it('SHOAL_AMQP_URL_FILE replaces SHOAL_AMQP_URL, for workers and the dispatcher', () => {
    const dir = mkdtempSync(join(tmpdir(), 'shoal-secret-'));
    const file = join(dir, 'shoal_amqp_url');
    writeFileSync(file, 'amqp://shoal:s3cret@rabbit.example:5672\n');
    try {
      const env = { SHOAL_AMQP_URL: 'amqp://ignored', SHOAL_AMQP_URL_FILE: file };
      expect(parseWorkerConfig(env).amqpUrl).toBe('amqp://shoal:s3cret@rabbit.example:5672');
      expect(parseDispatcherConfig(env, {}).amqpUrl).toBe('amqp://shoal:s3cret@rabbit.example:5672');
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('SHOAL_REDIS_URL_FILE replaces SHOAL_REDIS_URL, for workers and the dispatcher; --redis-url-secret is a dispatcher setting', () => {
    const dir = mkdtempSync(join(tmpdir(), 'shoal-secret-'));
    const file = join(dir, 'shoal_redis_url');
    writeFileSync(file, 'redis://:s3cret@redis.example:6379\n');
    try {
      const env = { SHOAL_REDIS_URL: 'redis://ignored:6379', SHOAL_REDIS_URL_FILE: file, SHOAL_TRANSPORT: 'bullmq' };
      expect(parseWorkerConfig(env).redisUrl).toBe('redis://:s3cret@redis.example:6379');
      expect(parseDispatcherConfig(env, {}).redisUrl).toBe('redis://:s3cret@redis.example:6379');
    } finally {
      rmSync(dir, { recursive: true });
    }
    expect(parseDispatcherConfig({}, {}).redisUrlSecret).toBe('-');
    expect(parseDispatcherConfig({ SHOAL_REDIS_URL_SECRET: 'from-env' }, { redisUrlSecret: 'shoal_redis_url' }).redisUrlSecret).toBe('shoal_redis_url');
    expect(() => parseWorkerConfig({ SHOAL_REDIS_URL_FILE: '/nonexistent/secret' })).toThrow('SHOAL_REDIS_URL_FILE names a file that cannot be read (got "/nonexistent/secret")');
  });

  it('an unreadable file is a clear error naming the variable', () => {
    expect(() => parseWorkerConfig({ SHOAL_AMQP_URL_FILE: '/nonexistent/secret' })).toThrow('SHOAL_AMQP_URL_FILE names a file that cannot be read (got "/nonexistent/secret")');
  });

  it('--runtime swarm is accepted; an unknown runtime is refused', () => {
    expect(parseDispatcherConfig({ SHOAL_RUNTIME: 'swarm' }, {}).runtime).toBe('swarm');
    expect(() => parseDispatcherConfig({ SHOAL_RUNTIME: 'k8s' }, {})).toThrow('SHOAL_RUNTIME');
  });
});
