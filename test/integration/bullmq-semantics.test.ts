import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PermanentJobError, TransientJobError } from '../../infra/errors.js';
import { EVENTS_MAX_LEN, QUEUE_NAME, queueOptions, queuePrefix, withRedisOnce } from '../../infra/transport/bullmq/connection.js';
import { BullmqDispatcherLink } from '../../infra/transport/bullmq/dispatcher-link.js';
import { quietLogger, REDIS_URL, waitFor } from '../helpers/broker.js';
import { usePool } from '../helpers/fixture.js';
import { sendControlTo } from '../helpers/transport.js';

/**
 * Where BullMQ's semantics meet shoal's contract: the failed set is the
 * dead-letter queue, `attempts` is the delivery limit + 1, a permanent error
 * fails at once, and a spare (BullMQ has no consumer priorities) runs one job
 * at a time until promoted.
 */
describe('the BullMQ transport', () => {
  const pool = usePool('bullmq');
  let queue: Queue;

  beforeEach(() => {
    queue = new Queue(QUEUE_NAME, queueOptions(REDIS_URL, pool.namespace, 'shoal test probe'));
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    await queue.close();
  });

  it('retries a transient failure up to attempts = delivery limit + 1, then answers with the error and fails the job', async () => {
    let attempts = 0;
    await pool.worker('flaky', { deliveryLimit: 2, handlers: { flaky: () => { attempts++; throw new TransientJobError('try again'); } } });
    const client = await pool.client(2);

    expect(await client.call('flaky', null, 10_000)).toMatchObject({ ok: false, error: { code: 'JOB_TRANSIENT' }, workerId: 'flaky' });
    expect(attempts).toBe(3);
    const [failed] = await waitFor('the job in the failed set', async () => { const jobs = await queue.getFailed(); return jobs.length === 1 && jobs; });
    expect(failed!.attemptsMade).toBe(3);
    expect(failed!.opts.attempts).toBe(3);
  });

  it('recovers when a transient failure clears before the limit, and the handler sees the delivery count', async () => {
    await pool.worker('flaky', { handlers: { flaky: (_p, ctx) => { if (ctx.deliveryCount < 2) throw new TransientJobError('not yet'); return { count: ctx.deliveryCount, redelivered: ctx.redelivered }; } } });
    const client = await pool.client();
    expect(await client.call('flaky', null, 10_000)).toMatchObject({ ok: true, result: { count: 2, redelivered: true }, redelivered: true });
  });

  it('fails a permanent error at once, without a retry, and keeps it in the failed set', async () => {
    let attempts = 0;
    await pool.worker('strict', { handlers: { refuse: () => { attempts++; throw new PermanentJobError('no thanks', { code: 'REFUSED' }); } } });
    const client = await pool.client();

    expect(await client.call('refuse', null, 10_000)).toMatchObject({ ok: false, error: { code: 'REFUSED', message: 'no thanks' } });
    expect(attempts).toBe(1);
    const [failed] = await waitFor('the job in the failed set', async () => { const jobs = await queue.getFailed(); return jobs.length === 1 && jobs; });
    expect(failed!.attemptsMade).toBe(1);
    expect(failed!.name).toBe('refuse');
    // Completed jobs are removed: their reply travelled in the completion event.
    expect(await client.call('echo', 1, 5000)).toMatchObject({ ok: true });
    expect(await queue.getJobCounts('completed', 'wait', 'active')).toEqual({ completed: 0, wait: 0, active: 0 });
  });

  it('a spare runs one job at a time until it is promoted, then its full concurrency', async () => {
    let running = 0;
    let peak = 0;
    const slow = async () => {
      peak = Math.max(peak, ++running);
      await sleep(150);
      running--;
      return null;
    };
    const spare = await pool.worker('spare', { concurrency: 4, role: 'spare', handlers: { slow } });
    const client = await pool.client();

    await Promise.all(Array.from({ length: 4 }, () => client.call('slow', null, 10_000)));
    expect(peak).toBe(1);

    const promoted = once(spare, 'promoted');
    expect(await sendControlTo(pool.namespace, 'bullmq', { type: 'promote', workerId: 'spare' })).toEqual({ routed: true });
    await promoted;
    peak = 0;
    await Promise.all(Array.from({ length: 8 }, () => client.call('slow', null, 10_000)));
    expect(peak).toBe(4);
    expect(spare.stats().role).toBe('worker');
  });

  it('a drain or promote reaches only the worker it names: to an unknown id it is not routed', async () => {
    await pool.worker('w');
    const link = await BullmqDispatcherLink.connect({ redisUrl: REDIS_URL, namespace: pool.namespace, logger: quietLogger, onQuit: () => undefined });
    try {
      expect(await link.send({ type: 'drain', workerId: 'nobody' })).toBe(false);
      expect(await link.send({ type: 'promote', workerId: 'nobody' })).toBe(false);
      expect(await sendControlTo(pool.namespace, 'bullmq', { type: 'drain', workerId: 'nobody' })).toEqual({ routed: false });
      expect(await link.send({ type: 'promote', workerId: 'w' })).toBe(true);
    } finally {
      await link.close();
    }
  });

  it("the dispatcher's Queue keeps the producer's events-stream limit in the queue's meta", async () => {
    await pool.client();
    const link = await BullmqDispatcherLink.connect({ redisUrl: REDIS_URL, namespace: pool.namespace, logger: quietLogger, onQuit: () => undefined });
    try {
      await link.queueDepth(); // after the link's meta write, on the same connection
      const limit = await withRedisOnce(REDIS_URL, 'shoal test meta', (redis) => redis.hget(`${queuePrefix(pool.namespace)}:${QUEUE_NAME}:meta`, 'opts.maxLenEvents'));
      expect(Number(limit)).toBe(EVENTS_MAX_LEN);
    } finally {
      await link.close();
    }
  });

  it('a call that times out before its job is even added still removes the job, once the add lands', async () => {
    const client = await pool.client();
    // The one fault injected: Redis takes the job only after the caller has given up.
    const add = Queue.prototype.add;
    const slowAdd = vi.spyOn(Queue.prototype, 'add').mockImplementationOnce(async function (this: Queue, ...args: Parameters<Queue['add']>) {
      await sleep(300);
      return add.apply(this, args);
    });
    await expect(client.call('echo', 1, 50)).rejects.toMatchObject({ code: 'TIMEOUT' });
    await slowAdd.mock.results[0]!.value;
    await waitFor('the expired job removed', async () => (await queue.getJobCounts('wait')).wait === 0, 5000);
  });

  it('the queue depth maps to the dispatcher: waiting jobs are ready, active ones unacked', async () => {
    // The jobs run until released: none completes while the depth is read, however slow the machine.
    let release!: () => void;
    const held = new Promise<null>((resolve) => (release = () => resolve(null)));
    const client = await pool.client();
    const calls = Array.from({ length: 5 }, () => client.call('hold', null, 30_000));
    const link = await BullmqDispatcherLink.connect({ redisUrl: REDIS_URL, namespace: pool.namespace, logger: quietLogger, onQuit: () => undefined });
    try {
      await waitFor('5 waiting jobs', async () => (await link.queueDepth()).ready === 5);
      await pool.worker('w', { concurrency: 2, handlers: { hold: () => held } });
      const depth = await waitFor('2 active', async () => { const d = await link.queueDepth(); return d.unacked === 2 && d; });
      expect(depth).toMatchObject({ ready: 3, unacked: 2, consumers: 1, publishRate: undefined, source: 'bullmq' });
      release();
      expect((await Promise.all(calls)).every((r) => r.ok)).toBe(true);
    } finally {
      release();
      await link.close();
    }
  });
});
