import { Queue } from 'bullmq';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { QUEUE_NAME, queueOptions } from '../../infra/transport/bullmq/connection.js';
import type { JobContext } from '../../worker/jobs.js';
import { REDIS_URL, waitFor } from '../helpers/broker.js';
import { usePool } from '../helpers/fixture.js';
import { runCli } from '../helpers/processes.js';

/** `shoal-dead --transport bullmq`: the failed set is BullMQ's dead-letter queue; list leaves it as it is, requeue moves jobs back to wait. */
describe('shoal-dead on BullMQ', () => {
  const pool = usePool('bullmq');
  const dead = (...args: string[]) => runCli('dispatcher/tools/dead-letters.js', [...args, '--transport', 'bullmq', '--namespace', pool.namespace]);
  let queue: Queue;
  beforeEach(() => {
    queue = new Queue(QUEUE_NAME, queueOptions(REDIS_URL, pool.namespace, 'shoal test probe'));
  });
  afterEach(async () => {
    await queue.close();
  });

  it('lists the failed jobs with their reason, requeues only the named job, and a worker then runs those', async () => {
    let broken = true;
    const contexts: JobContext[] = [];
    const worker = await pool.worker('w', {
      transport: 'bullmq',
      deliveryLimit: 0,
      handlers: {
        fixme: (payload, ctx) => {
          contexts.push(ctx);
          if (broken) throw new Error('not fixed yet');
          return payload;
        },
      },
    });
    const client = await pool.client(0);
    const replies = await Promise.all([...[1, 2, 3].map((n) => client.call('fixme', { n }, 10_000)), ...[1, 2].map((n) => client.call('unknown-job', { n }, 10_000))]);
    expect(replies.map((r) => (r.ok ? 'ok' : r.error.code))).toEqual(['JOB_FAILED', 'JOB_FAILED', 'JOB_FAILED', 'UNKNOWN_JOB', 'UNKNOWN_JOB']);
    await waitFor('5 failed jobs', async () => (await queue.getFailedCount()) === 5);

    const failedSet = `${pool.namespace}:bullmq:requests:failed`;
    const listed = await dead('list');
    expect(listed.stderr).toBe('');
    expect(listed.code).toBe(0);
    const lines = listed.stdout.trim().split('\n');
    expect(lines).toHaveLength(6);
    expect(lines.filter((l) => /job fixme {2}JOB_FAILED in test-\S+:bullmq:requests {2}at \d{4}-\S+ {2}\d+ B {2}"\{\\"job\\":\\"fixme\\"/.test(l))).toHaveLength(3);
    expect(lines.filter((l) => l.includes('job unknown-job  UNKNOWN_JOB in'))).toHaveLength(2);
    expect(lines[5]).toBe(`showed 5; ${failedSet} holds 5 dead letter(s), all still there`);
    const json = JSON.parse((await dead('list', '--json', '--limit', '2')).stdout) as { total: number; shown: number; deadLetters: { reason: string; diedAt: string }[] };
    expect(json).toMatchObject({ queue: failedSet, total: 5, shown: 2 });
    expect(json.deadLetters[0]!.diedAt).toMatch(/^\d{4}-/);
    expect(await queue.getFailedCount()).toBe(5);

    broken = false;
    contexts.length = 0;
    const moved = await dead('requeue', '--all', '--job', 'fixme');
    expect(moved.stderr).toBe('');
    expect(moved.code).toBe(0);
    expect(moved.stdout).toBe(`moved 3 dead letter(s) of job "fixme" from ${failedSet} to ${pool.namespace}:bullmq:requests:wait\nleft 2 dead letter(s) of other jobs in ${failedSet}\n`);
    await waitFor('the worker to run the requeued jobs', () => worker.stats().processed === 3);
    // Run afresh: no earlier deliveries, and no deadline from a caller that gave up long ago.
    expect(contexts.map((c) => [c.deliveryCount, c.deadline])).toEqual([[0, undefined], [0, undefined], [0, undefined]]);
    expect(await queue.getFailedCount()).toBe(2);
    const rest = JSON.parse((await dead('list', '--json')).stdout) as { total: number; deadLetters: { job: string }[] };
    expect(rest.deadLetters.map((d) => d.job)).toEqual(['unknown-job', 'unknown-job']);
  });

  it('an empty failed set, and a bounded requeue', async () => {
    expect((await dead('list')).stdout).toBe(`${pool.namespace}:bullmq:requests:failed is empty\n`);
    let runs = 0;
    await pool.worker('w', { transport: 'bullmq', deliveryLimit: 0, handlers: { boom: () => { runs++; throw new Error('kaput'); } } });
    const client = await pool.client(0);
    await Promise.all([1, 2, 3].map((n) => client.call('boom', { n }, 10_000)));
    await waitFor('3 failed jobs', async () => (await queue.getFailedCount()) === 3);
    const moved = await dead('requeue', '--limit', '1');
    expect(moved.stdout).toContain('moved 1 dead letter(s) from');
    // It fails again (still broken) and comes back: never lost.
    await waitFor('the requeued job run again', () => runs === 4);
    await waitFor('3 failed jobs again', async () => (await queue.getFailedCount()) === 3);
  });
});
