import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BullmqRpcClient } from '../../infra/transport/bullmq/rpc-client.js';
import type { Reply } from '../../infra/protocol.js';
import type { Worker } from '../../worker/worker.js';
import { newNamespace, quietLogger, startWorker, waitFor, workerPids } from '../helpers/broker.js';
import { loadWithFaults, printAccounting } from '../helpers/chaos.js';
import { exitOf, killDispatcherAndWorkers, runCli, startDispatcher } from '../helpers/processes.js';
import { startPrivateRedis, startRedis, stopRedis } from '../helpers/redis.js';

/**
 * A Redis restart under waiting BullMQ calls, on a private Redis (its own port
 * and directory) so that restarting it disturbs nobody. Started as
 * infra/setup.sh starts the shared one (infra/start-redis.sh: AOF, appendfsync
 * always), a restart keeps every confirmed job. When the restarted Redis has
 * lost its data (no persistence), the client finds its jobs gone and adds them
 * again under the same ids instead of waiting out its timeout.
 */
describe('BullMQ calls across a Redis restart', () => {
  let redis: Awaited<ReturnType<typeof startPrivateRedis>> | undefined;
  let client: BullmqRpcClient | undefined;
  let worker: Worker | undefined;
  let dispatcher: ChildProcess | undefined;
  let namespace = '';

  afterEach(async () => {
    await killDispatcherAndWorkers(dispatcher, namespace);
    dispatcher = undefined;
    await worker?.close();
    await client?.close();
    await redis?.remove();
    worker = client = redis = undefined;
  });

  /** Sends `n` calls with no worker running, restarts Redis (wiping its files or not), then starts a worker. */
  async function restartUnderWaitingCalls(n: number, wipe: boolean): Promise<{ replies: Reply[]; republished: number }> {
    redis = await startPrivateRedis();
    namespace = newNamespace();
    client = await BullmqRpcClient.connect({ redisUrl: redis.url, namespace, deliveryLimit: 5, maxBodyBytes: 1024 * 1024, name: 'shoal lost-jobs test', logger: quietLogger, lostJobCheckMs: 300 });
    const calls = Array.from({ length: n }, (_, i) => client!.call('echo', { i }, 30_000));
    await waitFor(`${n} requests confirmed`, () => client!.stats.confirmed === n);

    await stopRedis(redis, 'shutdown nosave');
    if (wipe) rmSync(path.join(redis.dir, 'appendonlydir'), { recursive: true, force: true });
    await startRedis(redis);

    worker = await startWorker(namespace, 'after-restart', { transport: 'bullmq', redisUrl: redis.url });
    const replies = await Promise.all(calls);
    return { replies, republished: client.stats.republished };
  }

  it('with AOF (appendfsync always) the restarted Redis still holds every confirmed job: all answered, none added again', async () => {
    const { replies, republished } = await restartUnderWaitingCalls(50, false);
    console.log(`bullmq Redis restart with AOF: sent 50, answered ${replies.length}, ok ${replies.filter((r) => r.ok).length}, republished ${republished}`);
    expect(replies.every((r) => r.ok)).toBe(true);
    expect(replies.map((r) => (r.ok ? r.result : undefined))).toEqual(Array.from({ length: 50 }, (_, i) => ({ i })));
    expect(republished).toBe(0);
  });

  it('a Redis that comes back empty: the client finds the jobs gone and adds them again; all answered long before the timeout', async () => {
    const started = Date.now();
    const { replies, republished } = await restartUnderWaitingCalls(50, true);
    const tookMs = Date.now() - started;
    console.log(`bullmq Redis restart, data lost: sent 50, answered ${replies.length}, ok ${replies.filter((r) => r.ok).length}, republished ${republished}, took ${tookMs} ms`);
    expect(replies.every((r) => r.ok)).toBe(true);
    expect(replies.map((r) => (r.ok ? r.result : undefined))).toEqual(Array.from({ length: 50 }, (_, i) => ({ i })));
    expect(republished).toBe(50);
    expect(tookMs).toBeLessThan(25_000); // generous: the calls' timeout is 30 s
  });

  it('under load (150 req/s through a pool of worker processes), Redis restarted empty: every request answered, the lost ones added again', async () => {
    redis = await startPrivateRedis();
    namespace = newNamespace();
    const redisArgs = ['--transport', 'bullmq', '--redis-url', redis.url, '--namespace', namespace];
    // 200 ms jobs and 2 x 40 slots: about 30 requests are held by workers at the fault, and lost with Redis's data.
    const started = startDispatcher(['--runtime', 'process', '--min', '2', '--max', '2', '--spares', '0', '--worker-concurrency', '40', '--metrics-port', '0', ...redisArgs]);
    dispatcher = started.child;
    client = await BullmqRpcClient.connect({ redisUrl: redis.url, namespace, deliveryLimit: 5, maxBodyBytes: 1024 * 1024, name: 'shoal lost-jobs load', logger: quietLogger });
    await waitFor('2 worker processes', () => workerPids(namespace).length === 2, 30_000);
    const server = redis;
    const account = await loadWithFaults(client, { count: 1500, ratePerSec: 150, job: 'sleep', payload: { ms: 200 }, timeoutMs: 60_000 }, [450], async () => {
      await stopRedis(server, 'shutdown nosave');
      rmSync(path.join(server.dir, 'appendonlydir'), { recursive: true, force: true });
      await startRedis(server);
    });
    printAccounting('bullmq Redis restarted empty under load', account);
    expect(account).toMatchObject({ sent: 1500, answered: 1500, ok: 1500, lost: 0, faults: 1 });
    expect(account.republished).toBeGreaterThan(0);
    const quit = await runCli('producer/quit.js', ['--redis-url', redis.url, '--namespace', namespace, '--transport', 'bullmq']);
    expect(quit.code).toBe(0);
    expect(await exitOf(dispatcher)).toBe(0);
  });
});
