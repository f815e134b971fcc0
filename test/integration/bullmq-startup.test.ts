import { setTimeout as sleep } from 'node:timers/promises';
import { Worker as BullWorker } from 'bullmq';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { connect, type ShoalClient } from '../../producer/index.js';
import { runWorker, type RunningWorker } from '../../worker/index.js';
import { waitForRedis, withRedisOnce } from '../../infra/transport/bullmq/connection.js';
import { BullmqConsumer, DEFAULT_BULLMQ_WORKER } from '../../infra/transport/bullmq/consumer.js';
import { BullmqDispatcherLink } from '../../infra/transport/bullmq/dispatcher-link.js';
import { encodeReply, type Reply } from '../../infra/protocol.js';
import type { RequestResult } from '../../infra/transport/types.js';
import { connectClient, newNamespace, quietLogger, REDIS_URL, removeNamespace, waitFor } from '../helpers/broker.js';
import { startPrivateRedis, startRedis, stopRedis } from '../helpers/redis.js';

/** Names of the Redis connections open now whose name contains `fragment` (shoal's and BullMQ's names hold the namespace). */
function openConnections(fragment: string): Promise<string[]> {
  return withRedisOnce(REDIS_URL, 'shoal test client list', async (redis) => {
    const list = (await redis.call('CLIENT', 'LIST')) as string;
    return list.split('\n').map((line) => /\bname=(\S*)/.exec(line)?.[1] ?? '').filter((name) => name.includes(fragment));
  });
}

/** A start that fails part-way closes what it had opened: an open connection would keep the failed process alive. */
describe('the BullMQ transport when start-up fails', () => {
  let namespace: string;

  afterEach(async () => {
    vi.restoreAllMocks();
    await removeNamespace(namespace);
  });

  it('a worker whose BullMQ Worker cannot start closes it and its control subscriber', async () => {
    namespace = newNamespace();
    const workerId = `${namespace}-w`;
    // The one fault injected: the BullMQ Worker never gets ready (only shoal calls this method).
    vi.spyOn(BullWorker.prototype, 'waitUntilReady').mockRejectedValueOnce(new Error('injected: not ready'));
    const consumer = new BullmqConsumer({ workerId, namespace, redisUrl: REDIS_URL, concurrency: 1, settings: DEFAULT_BULLMQ_WORKER, logger: quietLogger });
    await expect(consumer.start('worker', { deliver: () => ({ settle: 'ack' }), onControl: () => undefined })).rejects.toThrow(/injected/);
        await waitFor('no connection of the worker left', async () => (await openConnections(namespace)).length === 0, 5000);
  });

  it('a dispatcher link whose control subscription fails closes its queue and publisher', async () => {
    namespace = newNamespace();
    // The one fault injected: Redis refuses the quit channel's SUBSCRIBE.
    vi.spyOn(Redis.prototype, 'subscribe').mockRejectedValueOnce(new Error('injected SUBSCRIBE failure'));
    await expect(BullmqDispatcherLink.connect({ redisUrl: REDIS_URL, namespace, logger: quietLogger, onQuit: () => undefined })).rejects.toThrow(/injected/);
    await waitFor('no connection of the dispatcher left', async () => (await openConnections(namespace)).length === 0, 5000);
  });
});

/**
 * A worker the dispatcher starts just before or during a Redis outage waits
 * for Redis, as a RabbitMQ worker waits for its broker, instead of exiting and
 * being replaced over and over while the dispatcher holds the pool.
 */
describe('a BullMQ worker started while Redis is down', () => {
  let own: Awaited<ReturnType<typeof startPrivateRedis>> | undefined;
  let worker: RunningWorker | undefined;
  let client: ShoalClient | undefined;

  afterEach(async () => {
    await client?.close();
    await worker?.close();
    await own?.remove();
    own = worker = client = undefined;
  });

  it('waits for it, says so once, and serves once Redis is back', async () => {
    own = await startPrivateRedis();
    await stopRedis(own, 'shutdown nosave');
    const warnings: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line).msg as string) });
    let started = false;
    const starting = runWorker({ url: own.url, namespace: 'startup-wait', handlers: {}, logger }).then((w) => {
      started = true;
      return w;
    });
    await sleep(3000); // three tries
    expect(started).toBe(false);
    expect(warnings.filter((msg) => msg.includes('cannot reach Redis yet'))).toHaveLength(1);

    await startRedis(own);
    worker = await starting;
    client = await connect({ url: own.url, namespace: 'startup-wait' });
    expect(await client.call('echo', { after: 'the outage' }, { timeout: '10s' })).toEqual({ after: 'the outage' });
  });

  it('gives up with REDIS_UNREACHABLE once its wait is over: a wrong URL is an error, not a wait forever', async () => {
    const tries: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void tries.push(JSON.parse(line).msg as string) });
    await expect(waitForRedis('redis://127.0.0.1:1', 'shoal test wait', logger, () => false, 2500)).rejects.toMatchObject({ code: 'REDIS_UNREACHABLE' });
    expect(tries).toEqual(['cannot reach Redis yet; waiting for it']);
  });
});

/**
 * BullMQ's Worker is made only once Redis answers; a promote() that comes
 * before must not be lost, or the worker would run at a spare's concurrency of 1.
 */
describe('a BullMQ spare promoted while it starts', () => {
  const namespace = newNamespace();

  afterEach(() => removeNamespace(namespace));

  it('runs at its full concurrency once started', async () => {
    const consumer = new BullmqConsumer({ workerId: 'early', namespace, redisUrl: REDIS_URL, concurrency: 3, settings: DEFAULT_BULLMQ_WORKER, logger: quietLogger });
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let running = 0;
    const starting = consumer.start('spare', {
      deliver: async (message): Promise<RequestResult> => {
        running++;
        await held;
        const body: Reply = { ok: true, result: running, workerId: 'early', timings: { queuedMs: null, serviceMs: 0 } };
        return { settle: 'ack', reply: { replyTo: message.properties.replyTo!, correlationId: message.properties.correlationId!, body, encoded: encodeReply(body) } };
      },
      onControl: () => undefined,
    });
    await consumer.promote(); // before start() has made the BullMQ Worker (it waits for Redis first)
    await starting;
    const client = await connectClient(namespace, 5, 'bullmq');
    try {
      const calls = [1, 2, 3].map(() => client.call('held', null, 15_000));
      await waitFor('3 jobs running at once', () => running === 3, 10_000);
      release();
      expect((await Promise.all(calls)).every((reply) => reply.ok)).toBe(true);
    } finally {
      release();
      await consumer.stopConsuming();
      await consumer.close();
      await client.close();
    }
  });
});
