import { once } from 'node:events';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { publishControl } from '../../infra/amqp/control.js';
import { topologyFor } from '../../infra/protocol.js';
import { workerReportKey } from '../../infra/redis.js';
import { runLoad } from '../../producer/load.js';
import type { RpcClient } from '../../producer/rpc-client.js';
import { WorkerReporter } from '../../worker/reporter.js';
import type { Worker } from '../../worker/worker.js';
import { connectClient, newNamespace, rawChannel, REDIS_URL, removeNamespace, startWorker, waitFor } from '../helpers/broker.js';

describe('draining a worker', () => {
  let namespace: string;
  let workers: Worker[] = [];
  let client: RpcClient | undefined;

  afterEach(async () => {
    await client?.close();
    await Promise.all(workers.map((w) => w.close()));
    await removeNamespace(namespace);
    workers = [];
    client = undefined;
  });

  it('loses nothing when a worker is drained mid-load', async () => {
    namespace = newNamespace();
    workers = await Promise.all(['a', 'b', 'c'].map((id) => startWorker(namespace, id, { concurrency: 4 })));
    const [drained] = workers;
    client = await connectClient(namespace);

    let drainSent = false;
    const load = runLoad(client, { count: 400, concurrency: 24, ratePerSec: undefined, job: 'sleep', payload: { ms: 10 }, timeoutMs: 20_000 }, async (o) => {
      if (o.index > 60 && !drainSent) {
        drainSent = true;
        const { connection, channel } = await rawChannel();
        await publishControl(channel, topologyFor(namespace), { type: 'drain', workerId: 'a' });
        await connection.close();
      }
    });
    const closed = once(drained!, 'closed');
    const summary = await load;
    await closed;

    expect(summary).toMatchObject({ sent: 400, ok: 400, errors: 0, timedOut: 0 });
    const drainedStats = drained!.stats();
    expect(drainedStats.state).toBe('draining');
    expect(drainedStats.inFlight).toBe(0);
    // The drained worker stopped early; the others carried the rest.
    expect(summary.repliesByWorker.a ?? 0).toBeLessThan(summary.repliesByWorker.b! + summary.repliesByWorker.c!);
  });

  it('finishes and acks in-flight jobs before closing', async () => {
    namespace = newNamespace();
    const worker = await startWorker(namespace, 'slow', { concurrency: 3 });
    workers = [worker];
    client = await connectClient(namespace);

    const calls = [1, 2, 3].map(() => client!.call('sleep', { ms: 300 }, 10_000));
    await waitFor('3 jobs in flight', () => worker.stats().inFlight === 3);
    const closing = worker.close('test');
    const replies = await Promise.all(calls);
    await closing;
    expect(replies.every((r) => r.ok)).toBe(true);
    expect(worker.stats()).toMatchObject({ processed: 3, inFlight: 0 });
    // close() is idempotent: the same promise every time.
    expect(worker.close()).toBe(closing);
  });

  it('reports its counters to Redis while it runs, and removes them when it closes', async () => {
    namespace = newNamespace();
    const worker = await startWorker(namespace, 'reporting');
    workers = [worker];
    client = await connectClient(namespace);
    const reporter = new WorkerReporter(new Redis(REDIS_URL), namespace, 'reporting', () => worker.stats(), 100);
    reporter.start();
    await client.call('echo', 1, 5000);

    const redis = new Redis(REDIS_URL);
    try {
      const report = await waitFor('a report with one processed job', async () => {
        const raw = await redis.get(workerReportKey(namespace, 'reporting'));
        const parsed = raw ? (JSON.parse(raw) as { processed: number; workerId: string }) : undefined;
        return parsed?.processed === 1 && parsed;
      });
      expect(report.workerId).toBe('reporting');
      expect(await redis.pttl(workerReportKey(namespace, 'reporting'))).toBeGreaterThan(0);
      await reporter.close();
      expect(await redis.exists(workerReportKey(namespace, 'reporting'))).toBe(0);
    } finally {
      await redis.quit();
    }
  });
});
