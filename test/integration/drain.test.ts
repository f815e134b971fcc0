import { once } from 'node:events';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { workerReportKey } from '../../infra/redis.js';
import { runLoad } from '../../producer/load.js';
import { WorkerReporter } from '../../worker/reporter.js';
import { REDIS_URL, waitFor } from '../helpers/broker.js';
import { usePool } from '../helpers/fixture.js';
import { EACH_TRANSPORT, sendControlTo } from '../helpers/transport.js';

describe.each(EACH_TRANSPORT)('draining a worker (%s)', (transport) => {
  const pool = usePool(transport);

  it('loses nothing when a worker is drained mid-load', async () => {
    const workers = await Promise.all(['a', 'b', 'c'].map((id) => pool.worker(id, { concurrency: 4 })));
    const [drained] = workers;
    const client = await pool.client();

    let drainSent = false;
    const load = runLoad(client, { count: 400, concurrency: 24, ratePerSec: undefined, job: 'sleep', payload: { ms: 10 }, timeoutMs: 20_000 }, async (o) => {
      if (o.index > 60 && !drainSent) {
        drainSent = true;
        await sendControlTo(pool.namespace, transport, { type: 'drain', workerId: 'a' });
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
    const worker = await pool.worker('slow', { concurrency: 3 });
    const client = await pool.client();

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
    const worker = await pool.worker('reporting');
    const client = await pool.client();
    const reporter = new WorkerReporter(new Redis(REDIS_URL), pool.namespace, 'reporting', () => worker.stats(), 100);
    reporter.start();
    await client.call('echo', 1, 5000);

    const redis = new Redis(REDIS_URL);
    try {
      const report = await waitFor('a report with one processed job', async () => {
        const raw = await redis.get(workerReportKey(pool.namespace, 'reporting'));
        const parsed = raw ? (JSON.parse(raw) as { processed: number; workerId: string }) : undefined;
        return parsed?.processed === 1 && parsed;
      });
      expect(report.workerId).toBe('reporting');
      expect(await redis.pttl(workerReportKey(pool.namespace, 'reporting'))).toBeGreaterThan(0);
      await reporter.close();
      expect(await redis.exists(workerReportKey(pool.namespace, 'reporting'))).toBe(0);
    } finally {
      await redis.quit();
    }
  });
});
