import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { topologyFor } from '../../infra/amqp/topology.js';
import type { RpcCaller } from '../../infra/transport/types.js';
import { connectClient, consumerCount, newNamespace, rawChannel, startWorker, waitFor, workerPids } from '../helpers/broker.js';
import { exitOf, killProcessPool, startDispatcher } from '../helpers/processes.js';

/**
 * infra/signals.ts: the first SIGINT or SIGTERM drains, a second of either
 * kind forces the exit. Shown on a worker and a dispatcher that each hold a
 * long job, so that the graceful stop cannot finish before the second signal.
 */
describe('a second shutdown signal forces the exit', () => {
  let namespace = '';
  let client: RpcCaller | undefined;
  let processes: ChildProcess[] = [];

  afterEach(async () => {
    for (const child of processes) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await client?.close();
    await killProcessPool(undefined, namespace);
    client = undefined;
    processes = [];
  });

  /** Calls a `sleep` job; resolves once a consumer has taken it off the queue, with the reply to come. */
  async function heldCall(ms: number, timeoutMs: number): Promise<{ reply: Promise<unknown> }> {
    client = await connectClient(namespace);
    const reply = client.call('sleep', { ms }, timeoutMs).then((r) => r, (err: Error) => err);
    const { channel, connection } = await rawChannel();
    try {
      await waitFor('the request to be taken', async () => (await channel.checkQueue(topologyFor(namespace).requestQueue)).messageCount === 0 && client!.stats.confirmed === 1);
    } finally {
      await connection.close();
    }
    return { reply };
  }

  it('a worker: SIGINT starts a drain, a SIGTERM after it exits 143 at once, and the request it held is served elsewhere', async () => {
    namespace = newNamespace();
    const worker = spawn(process.execPath, ['dist/worker/main.js'], {
      env: { ...process.env, SHOAL_NAMESPACE: namespace, SHOAL_WORKER_ID: 'w-signals', SHOAL_REDIS_URL: 'off', SHOAL_CONCURRENCY: '1', SHOAL_LOG_LEVEL: 'warn' },
      stdio: 'ignore',
    });
    processes.push(worker);
    await waitFor('the worker to consume', async () => (await consumerCount(topologyFor(namespace))) === 1);
    const { reply } = await heldCall(5000, 30_000);

    worker.kill('SIGINT'); // the two kinds mixed: the dispatcher's test below repeats SIGTERM
    await sleep(1000);
    expect(worker.exitCode).toBeNull(); // draining: its 5 s job is still running

    worker.kill('SIGTERM');
    expect(await exitOf(worker)).toBe(143);
    let settled = false;
    void reply.then(() => (settled = true));
    await sleep(100);
    expect(settled).toBe(false); // it left without replying or acking

    const replacement = await startWorker(namespace, 'w-after', { concurrency: 1 });
    try {
      expect(await reply).toMatchObject({ workerId: 'w-after' });
    } finally {
      await replacement.close('test over');
    }
  });

  it('a dispatcher: SIGTERM starts draining the pool, a second SIGTERM kills its workers and exits 143', async () => {
    namespace = newNamespace();
    const started = startDispatcher(['--runtime', 'process', '--min', '1', '--max', '1', '--spares', '0', '--metrics-port', '0', '--redis-url', 'off', '--namespace', namespace]);
    processes.push(started.child);
    await waitFor('the pool to consume', async () => (await consumerCount(topologyFor(namespace))) === 1);
    const { reply } = await heldCall(6000, 20_000);

    started.child.kill('SIGTERM');
    await waitFor('the drain to start', () => started.output().includes('shutting down: draining every worker'));
    await sleep(1000);
    expect(started.child.exitCode).toBeNull(); // its worker still runs the 6 s job
    expect(workerPids(namespace)).toHaveLength(1);

    started.child.kill('SIGTERM');
    expect(await exitOf(started.child)).toBe(143);
    expect(started.output()).toContain('second signal: killing workers now');
    await waitFor('its worker to be gone', () => workerPids(namespace).length === 0, 5000);
    // Killed, it acked nothing: the request is served once a worker is back.
    const replacement = await startWorker(namespace, 'w-after', { concurrency: 1 });
    try {
      expect(await reply).toMatchObject({ workerId: 'w-after' });
    } finally {
      await replacement.close('test over');
    }
  });
});
