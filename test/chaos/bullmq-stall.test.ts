import type { ChildProcess } from 'node:child_process';
import { Queue } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { ProcessRuntime } from '../../infra/runtime/process.js';
import { QUEUE_NAME, queueOptions } from '../../infra/transport/bullmq/connection.js';
import type { RpcCaller } from '../../infra/transport/types.js';
import type { Reply } from '../../infra/protocol.js';
import { AMQP_URL, connectClient, newNamespace, REDIS_URL, removeNamespace, waitFor } from '../helpers/broker.js';
import { alive, loadWhileKillingWorkers } from '../helpers/chaos.js';
import { poolContainers } from '../helpers/docker.js';
import { exitOf, runCli, startDispatcher } from '../helpers/processes.js';
import { poolConsumers } from '../helpers/transport.js';

/**
 * BullMQ's answer to a worker that dies mid-job. RabbitMQ redelivers a dead
 * consumer's unacked messages the moment its connection drops; BullMQ has no
 * connection-bound delivery: the job's lock expires (lockDuration), and a
 * stalled-job check of another worker (every stalledInterval) moves it back to
 * wait, up to maxStalledCount times; past that, the job is failed. Short
 * settings here so a test takes seconds, not BullMQ's default 30 s.
 */
const STALL_ENV = { SHOAL_BULLMQ_LOCK_DURATION: '2s', SHOAL_BULLMQ_STALLED_INTERVAL: '1s' };

describe('chaos: a BullMQ worker killed with SIGKILL mid-job', () => {
  let namespace: string;
  let client: RpcCaller | undefined;
  let queue: Queue | undefined;
  let dispatcher: ChildProcess | undefined;
  const runtime = new ProcessRuntime({ stdio: 'ignore' });

  afterEach(async () => {
    // First: a dispatcher left running by a failed test would start new containers after the cleanup.
    if (dispatcher && dispatcher.exitCode === null) {
      dispatcher.kill('SIGKILL');
      await exitOf(dispatcher);
    }
    dispatcher = undefined;
    await client?.close();
    await queue?.close();
    queue = undefined;
    for (const worker of await runtime.list()) await runtime.remove(worker.workerId);
    await runCli('dispatcher/tools/cleanup.js', ['--namespace', namespace]);
    await removeNamespace(namespace);
    client = undefined;
  });

  const startWorker = (workerId: string, env: Record<string, string> = {}) =>
    runtime.start({
      workerId,
      role: 'worker',
      env: { SHOAL_AMQP_URL: AMQP_URL, SHOAL_REDIS_URL: REDIS_URL, SHOAL_NAMESPACE: namespace, SHOAL_TRANSPORT: 'bullmq', SHOAL_CONCURRENCY: '4', ...STALL_ENV, ...env },
    });

  /** Sends 4 slow jobs, waits until the first worker holds all 4, starts a second worker, and kills the first. */
  async function killMidJob(secondWorkerEnv: Record<string, string>): Promise<Reply[]> {
    namespace = newNamespace();
    queue = new Queue(QUEUE_NAME, queueOptions(REDIS_URL, namespace, 'shoal chaos probe'));
    await startWorker('victim');
    client = await connectClient(namespace, 5, 'bullmq');
    const calls = Array.from({ length: 4 }, () => client!.call('sleep', { ms: 1500 }, 30_000));
    await waitFor('the victim holding 4 jobs', async () => (await queue!.getJobCounts('active')).active === 4);
    await startWorker('rescuer', secondWorkerEnv);
    await runtime.remove('victim'); // SIGKILL: no drain, the locks are left to expire
    return Promise.all(calls);
  }

  it('its jobs are recovered as stalled jobs and answered by another worker, marked redelivered', async () => {
    const replies = await killMidJob({});
    const summary = { sent: 4, answered: replies.length, ok: replies.filter((r) => r.ok).length, byRescuer: replies.filter((r) => r.workerId === 'rescuer').length, redelivered: replies.filter((r) => r.redelivered).length };
    console.log(`chaos bullmq stall: ${JSON.stringify(summary)}`);
    expect(summary).toEqual({ sent: 4, answered: 4, ok: 4, byRescuer: 4, redelivered: 4 });
    expect(await queue!.getJobCounts('failed', 'wait', 'active')).toEqual({ failed: 0, wait: 0, active: 0 });
  });

  it('past maxStalledCount a stalled job is failed, not run again: the caller gets JOB_STALLED', async () => {
    // maxStalledCount 0: the first stall is one too many. (RabbitMQ's counterpart is the delivery limit.)
    const replies = await killMidJob({ SHOAL_BULLMQ_MAX_STALLED: '0' });
    expect(replies.map((r) => (r.ok ? 'ok' : r.error.code))).toEqual(['JOB_STALLED', 'JOB_STALLED', 'JOB_STALLED', 'JOB_STALLED']);
    expect((await queue!.getJobCounts('failed')).failed).toBe(4);
    const [failed] = await queue!.getFailed(0, 0);
    expect(failed?.failedReason).toMatch(/stalled more than allowable limit/);
  });

  it('under load, worker containers killed 3 times: every request is answered, the stalled ones by other workers', async () => {
    namespace = newNamespace();
    const { child } = startDispatcher(
      ['--transport', 'bullmq', '--runtime', 'docker', '--min', '2', '--max', '2', '--spares', '0', '--metrics-port', '0', '--drain-grace', '10s', '--namespace', namespace],
      STALL_ENV,
    );
    dispatcher = child;
    await waitFor('2 BullMQ workers', async () => (await poolConsumers(namespace, 'bullmq')) >= 2, 30_000);
    client = await connectClient(namespace, 5, 'bullmq');
    await loadWhileKillingWorkers(client, namespace, 'bullmq worker SIGKILL x3'); // the victims' jobs stall and come back
    expect(alive(child)).toBe(true);
    await runCli('producer/quit.js', ['--namespace', namespace, '--transport', 'bullmq']);
    expect(await exitOf(child)).toBe(0);
    expect(await poolContainers(namespace)).toEqual([]);
  });
});
