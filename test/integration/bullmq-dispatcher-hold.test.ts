import type { ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { BullmqRpcClient } from '../../infra/transport/bullmq/rpc-client.js';
import { newNamespace, quietLogger, waitFor, workerPids } from '../helpers/broker.js';
import { exitOf, killDispatcherAndWorkers, runCli, startDispatcher } from '../helpers/processes.js';
import { startPrivateRedis } from '../helpers/redis.js';
import { expectHeldThrough, redisOutageUnderLoad } from '../helpers/redis-outage.js';

/**
 * On BullMQ, Redis holds the queue and the worker reports: while it is down
 * the dispatcher has no figures, and must hold the pool rather than read an
 * empty queue. On a private Redis (its own port and directory), so that
 * stopping it disturbs nobody; test/chaos/bullmq-redis-restart.test.ts does
 * the same to the shared Redis under a pool of containers.
 */
describe('the dispatcher on BullMQ while Redis is down', () => {
  let redis: Awaited<ReturnType<typeof startPrivateRedis>> | undefined;
  let client: BullmqRpcClient | undefined;
  let dispatcher: ChildProcess | undefined;
  let namespace = '';

  afterEach(async () => {
    await killDispatcherAndWorkers(dispatcher, namespace);
    await client?.close();
    await redis?.remove();
    dispatcher = client = redis = undefined;
  });

  it('holds a grown pool while Redis is down (queue and reports unreadable), says so once, and scales again after', async () => {
    redis = await startPrivateRedis();
    namespace = newNamespace();
    const started = startDispatcher(['--runtime', 'process', '--min', '1', '--max', '4', '--spares', '0', '--scale-down-window', '1s', '--metrics-port', '0', '--transport', 'bullmq', '--redis-url', redis.url, '--namespace', namespace]);
    dispatcher = started.child;
    client = await BullmqRpcClient.connect({ redisUrl: redis.url, namespace, deliveryLimit: 5, maxBodyBytes: 1024 * 1024, name: 'shoal outage load', logger: quietLogger });
    await waitFor('a worker process', () => workerPids(namespace).length === 1, 30_000);
    const result = await redisOutageUnderLoad(client, redis, async () => workerPids(namespace).length, 5000);
    expectHeldThrough(result, started.output(), 1);
    const quit = await runCli('producer/quit.js', ['--redis-url', redis.url, '--namespace', namespace, '--transport', 'bullmq']);
    expect(quit.code).toBe(0);
    expect(await exitOf(dispatcher)).toBe(0);
  });
});
