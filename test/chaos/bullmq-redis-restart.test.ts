import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { RpcCaller } from '../../infra/transport/types.js';
import { BullmqRpcClient } from '../../infra/transport/bullmq/rpc-client.js';
import { connectClient, newNamespace, quietLogger, removeNamespace, waitFor } from '../helpers/broker.js';
import { alive, loadWithFaults, printAccounting } from '../helpers/chaos.js';
import { poolContainers } from '../helpers/docker.js';
import { exitOf, runCli, startDispatcher } from '../helpers/processes.js';
import { ensurePersistent, redisUp, sharedRedis, startPrivateRedis, startRedis, stopRedis, type RedisServer } from '../helpers/redis.js';
import { poolConsumers } from '../helpers/transport.js';
import { expectHeldThrough, redisOutageUnderLoad } from '../helpers/redis-outage.js';

/**
 * On BullMQ, Redis is the queue. Run as infra/setup.sh runs it (AOF,
 * appendfsync always), a restart mid-load loses no confirmed request: it is
 * shut down (its AOF is already fsynced), then started again with the
 * setup's command line (infra/start-redis.sh) in the directory it ran in.
 * Before persistence, a `shutdown nosave` here left 8 of 2400 calls to time
 * out. Jobs that Redis still lost would be added again by the client
 * (test/integration/bullmq-lost-jobs.test.ts); the count is printed.
 */
describe('chaos: Redis restarted or stopped during a BullMQ load', () => {
  let namespace: string;
  let redis: RedisServer | undefined;
  let dispatcher: ChildProcess | undefined;
  let client: RpcCaller | undefined;
  let privateRedis: Awaited<ReturnType<typeof startPrivateRedis>> | undefined;

  afterEach(async () => {
    if (redis && !redisUp(redis.port)) await startRedis(redis);
    await waitFor('Redis', () => redisUp());
    if (dispatcher && dispatcher.exitCode === null) {
      dispatcher.kill('SIGKILL');
      await exitOf(dispatcher);
    }
    await client?.close();
    await privateRedis?.remove();
    privateRedis = undefined;
    await runCli('dispatcher/tools/cleanup.js', ['--namespace', namespace]);
    await removeNamespace(namespace);
    dispatcher = client = undefined;
  });

  it('shutdown and start mid-load (150 req/s of 20 ms jobs, a pool of 3 containers): every request answered, none lost', async () => {
    namespace = newNamespace();
    redis = sharedRedis();
    await ensurePersistent(redis); // as setup does for a Redis started without
    const started = startDispatcher(['--transport', 'bullmq', '--runtime', 'docker', '--min', '3', '--max', '3', '--spares', '0', '--metrics-port', '0', '--drain-grace', '10s', '--namespace', namespace]);
    dispatcher = started.child;
    await waitFor('3 BullMQ workers', async () => (await poolConsumers(namespace, 'bullmq')) >= 3, 30_000);
    client = await connectClient(namespace, 5, 'bullmq');
    const server = redis;
    const account = await loadWithFaults(client, { count: 2400, ratePerSec: 150, job: 'sleep', payload: { ms: 20 }, timeoutMs: 60_000 }, [600], async () => {
      await stopRedis(server, 'shutdown');
      await sleep(3000);
      await startRedis(server);
    });
    printAccounting('bullmq Redis shutdown + restart (AOF)', account);
    expect(account).toMatchObject({ sent: 2400, confirmed: 2400, answered: 2400, ok: 2400, lost: 0, faults: 1 });

    // The workers and the dispatcher came back too: the pool answers quit.
    await waitFor('3 BullMQ workers again', async () => (await poolConsumers(namespace, 'bullmq')) >= 3, 30_000);
    expect(alive(started.child)).toBe(true);
    await runCli('producer/quit.js', ['--namespace', namespace, '--transport', 'bullmq']);
    expect(await exitOf(started.child)).toBe(0);
    expect(await poolContainers(namespace)).toEqual([]);
  });

  // On a private Redis (its own port and directory, as test/integration/
  // bullmq-dispatcher-hold.test.ts does for local processes): the containers
  // reach it over host networking, and nobody else's runs lose their Redis.
  it('Redis stopped for 6 s under a grown pool: the dispatcher holds its size and says so once; nothing lost', async () => {
    namespace = newNamespace();
    const own = await startPrivateRedis();
    privateRedis = own;
    const started = startDispatcher(['--transport', 'bullmq', '--redis-url', own.url, '--runtime', 'docker', '--min', '1', '--max', '4', '--spares', '0', '--scale-down-window', '1s', '--metrics-port', '0', '--drain-grace', '10s', '--namespace', namespace]);
    dispatcher = started.child;
    client = await BullmqRpcClient.connect({ redisUrl: own.url, namespace, deliveryLimit: 5, maxBodyBytes: 1024 * 1024, name: 'shoal outage load', logger: quietLogger });
    const running = async () => (await poolContainers(namespace)).filter((c) => c.State === 'running').length;
    await waitFor('a worker container', async () => (await running()) >= 1, 30_000);
    const result = await redisOutageUnderLoad(client, own, running, 6000);
    expectHeldThrough(result, started.output(), 1);
    expect(alive(started.child)).toBe(true);
    await runCli('producer/quit.js', ['--namespace', namespace, '--transport', 'bullmq', '--redis-url', own.url]);
    expect(await exitOf(started.child)).toBe(0);
    expect(await poolContainers(namespace)).toEqual([]);
  });
});
