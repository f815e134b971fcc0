import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { topologyFor } from '../../infra/amqp/topology.js';
import { workerReportKey } from '../../infra/redis.js';
import { SwarmRuntime, type SwarmRuntimeOptions } from '../../infra/runtime/swarm.js';
import type { SwarmTask } from '../../infra/runtime/swarm-spec.js';
import { runLoad } from '../../producer/load.js';
import type { RpcCaller } from '../../infra/transport/types.js';
import { AMQP_URL, connectClient, consumerCount, newNamespace, REDIS_URL, removeNamespace, waitFor } from '../helpers/broker.js';
import { docker, drainSender, poolContainers, poolServices, WORKER_IMAGE } from '../helpers/docker.js';
import { exitOf, runCli, startDispatcher } from '../helpers/processes.js';
import { countMembers, readStatus } from '../helpers/status.js';

/** Tasks of the pool's worker service that Swarm still wants to run. */
async function runningTasks(namespace: string): Promise<SwarmTask[]> {
  const [service] = (await poolServices(namespace)).filter((s) => (s as unknown as { Spec: { Name: string } }).Spec.Name === `${namespace}-worker`);
  if (!service) return [];
  return (await docker.listTasks({ filters: { service: [(service as unknown as { ID: string }).ID], 'desired-state': ['running'] } })) as SwarmTask[];
}

/** Counts replies per correlation: every call answered once, by whom, and whether any was delivered twice. */
function countingCaller(client: RpcCaller) {
  const byWorker = new Map<string, number>();
  let redelivered = 0;
  return {
    byWorker,
    redelivered: () => redelivered,
    call: async (job: string, payload: unknown, timeoutMs: number) => {
      const reply = await client.call(job, payload, timeoutMs);
      byWorker.set(reply.workerId, (byWorker.get(reply.workerId) ?? 0) + 1);
      if (reply.redelivered) redelivered++;
      return reply;
    },
  };
}

/** Runs every step even when some fail, then throws what failed: one failing closer must not skip the rest. */
async function runAll(steps: (() => Promise<unknown>)[]): Promise<void> {
  const failures: unknown[] = [];
  for (const step of steps) await step().catch((err: unknown) => failures.push(err));
  if (failures.length > 0) throw new AggregateError(failures, `${failures.length} clean-up step(s) failed`);
}

/** The Swarm runtime on this machine's single-node swarm (`docker swarm init --advertise-addr 127.0.0.1`). */
describe('a worker pool on Docker Swarm', () => {
  let namespace: string;
  let dispatcher: ChildProcess | undefined;
  let client: RpcCaller | undefined;
  const closers: (() => Promise<unknown>)[] = [];

  afterEach(async () => {
    await client?.close();
    client = undefined;
    if (dispatcher && dispatcher.exitCode === null) {
      dispatcher.kill('SIGKILL');
      await exitOf(dispatcher);
    }
    dispatcher = undefined;
    // cleanup.js first: the pool's services go before what they use (a secret in use cannot be removed).
    await runAll([
      async () => {
        const cleanup = await runCli('dispatcher/tools/cleanup.js', ['--namespace', namespace]);
        if (cleanup.code !== 0) throw new Error(`shoal-cleanup exited ${cleanup.code}: ${cleanup.stderr}`);
      },
      ...closers.splice(0).reverse(),
      () => removeNamespace(namespace),
    ]);
  });

  /** A watching SwarmRuntime for this test's pool, with a drain sender; both are closed after the test. */
  async function swarmRuntime(options: Partial<SwarmRuntimeOptions> = {}): Promise<SwarmRuntime> {
    const control = await drainSender(namespace);
    closers.push(control.close);
    const runtime = new SwarmRuntime({
      docker, namespace, image: WORKER_IMAGE, memoryBytes: 256 * 1024 ** 2, cpus: 1, stopGraceMs: 10_000,
      requestDrain: control.requestDrain, logger: pino({ level: 'silent' }), ...options,
    });
    await runtime.watch();
    closers.push(() => runtime.close());
    return runtime;
  }

  it('drains a chosen task under load, and lowering the replica count removes exactly that task: no request lost or answered twice', async () => {
    namespace = newNamespace();
    const runtime = await swarmRuntime({ stopGraceMs: 20_000 });
    const env = { SHOAL_AMQP_URL: AMQP_URL, SHOAL_NAMESPACE: namespace, SHOAL_REDIS_URL: 'off', SHOAL_LOG_LEVEL: 'warn' };
    // Three starts at once are one service update (replicas 0 -> 3).
    const handles = await Promise.all([1, 2, 3].map(() => runtime.start({ workerId: 'ignored', role: 'worker', env })));
    expect(new Set(handles.map((h) => h.workerId)).size).toBe(3);
    await waitFor('3 consumers', async () => (await consumerCount(topologyFor(namespace))) === 3, 30_000);

    client = await connectClient(namespace);
    const caller = countingCaller(client);
    const COUNT = 300; // 75/s x 4 s of 200 ms jobs: 15 busy slots of the 12, so each worker holds work when one is drained
    const load = runLoad(caller, { count: COUNT, concurrency: 2000, ratePerSec: 75, job: 'sleep', payload: { ms: 200 }, timeoutMs: 60_000 });

    await sleep(1500);
    const victim = handles[1]!;
    const drained = await runtime.drain(victim.workerId, 20_000);
    expect(drained).toMatchObject({ workerId: victim.workerId, exitCode: 0, reason: 'exited' });
    await runtime.remove(victim.workerId);

    // Swarm removed the drained slot, not one of the two running ones.
    const left = await runningTasks(namespace);
    expect(left.map((t) => t.ID).sort()).toEqual([handles[0]!.runtimeId, handles[2]!.runtimeId].sort());
    expect(left.every((t) => t.Status.State === 'running')).toBe(true);
    expect((await runtime.list()).map((h) => h.workerId).sort()).toEqual([handles[0]!.workerId, handles[2]!.workerId].sort());

    const summary = await load;
    expect(summary).toMatchObject({ sent: COUNT, ok: COUNT, errors: 0, timedOut: 0 });
    expect(client.stats).toMatchObject({ answered: COUNT, duplicatesSuppressed: 0, lateReplies: 0 });
    // A drain loses nothing, but RabbitMQ may hand a quorum-queue message that was on its way to the
    // cancelled consumer back to the queue (rabbitmq-server#3729): it is delivered once more, to another
    // worker, flagged redelivered, and run once. At most the worker's prefetch (4) per drain.
    expect(caller.redelivered()).toBeLessThanOrEqual(4);
    expect(caller.byWorker.get(victim.workerId)).toBeGreaterThan(0); // it held work when it was drained
    console.log(`swarm drain under load: ${COUNT} answered, ${caller.redelivered()} redelivered; by worker ${JSON.stringify(Object.fromEntries(caller.byWorker))}; drained ${victim.workerId}`);

    for (const h of await runtime.list()) await runtime.remove(h.workerId);
    await runtime.close();
    expect(await poolServices(namespace)).toEqual([]);
  }, 90_000);

  it('gives workers the broker and Redis URLs from Swarm secrets, never in their environment, in a least-privilege container', async () => {
    namespace = newNamespace();
    const secretOf = async (name: string, value: string) => {
      const secret = await docker.createSecret({ Name: name, Data: Buffer.from(value).toString('base64'), Labels: { 'org.shoal.pool': namespace } });
      closers.push(() => docker.getSecret(secret.id).remove());
    };
    const secretName = `${namespace}-amqp-url`;
    const redisSecretName = `${namespace}-redis-url`;
    await secretOf(secretName, AMQP_URL);
    // Another database than the default one: a report there shows the worker read the URL from the secret.
    const secretRedisUrl = new URL(REDIS_URL);
    secretRedisUrl.pathname = '/5';
    await secretOf(redisSecretName, secretRedisUrl.href);
    const runtime = await swarmRuntime({ amqpUrlSecret: secretName, redisUrlSecret: redisSecretName });
    const handle = await runtime.start({ workerId: 'ignored', role: 'worker', env: { SHOAL_AMQP_URL: AMQP_URL, SHOAL_NAMESPACE: namespace, SHOAL_REDIS_URL: REDIS_URL } });
    await waitFor('the worker to consume', async () => (await consumerCount(topologyFor(namespace))) === 1, 30_000);
    const [service] = (await poolServices(namespace)) as unknown as { Spec: { TaskTemplate: { ContainerSpec: { Env: string[] } } } }[];
    const env = service!.Spec.TaskTemplate.ContainerSpec.Env;
    expect(env).toEqual(expect.arrayContaining([`SHOAL_AMQP_URL_FILE=/run/secrets/${secretName}`, `SHOAL_REDIS_URL_FILE=/run/secrets/${redisSecretName}`]));
    expect(env.some((e) => e.startsWith('SHOAL_AMQP_URL=') || e.startsWith('SHOAL_REDIS_URL='))).toBe(false);
    // The worker read the Redis URL from its file: its report (which expires by itself) arrives in database 5.
    const redis = new Redis(secretRedisUrl.href);
    try {
      await waitFor('the worker\'s report in Redis', async () => (await redis.exists(workerReportKey(namespace, handle.workerId))) === 1, 15_000);
    } finally {
      redis.disconnect();
    }

    // The task's container has the Docker runtime's limits and least privilege (no-new-privileges aside:
    // Docker 20.10's service API has no such field).
    const task = (await docker.getTask(handle.runtimeId).inspect()) as SwarmTask;
    const container = await docker.getContainer(task.Status.ContainerStatus!.ContainerID!).inspect();
    expect(container.HostConfig).toMatchObject({ NetworkMode: 'host', ReadonlyRootfs: true, CapDrop: ['ALL'], Memory: 256 * 1024 ** 2, NanoCpus: 1e9 });
    expect(container.Config.User).toBe('10001:10001');
    expect(container.Config.Labels).toMatchObject({ 'org.shoal.pool': namespace, 'org.shoal.role': 'worker', 'org.shoal.managed-by': 'shoal-dispatcher' });
    expect(container.Config.Env).toContain(`SHOAL_WORKER_ID=${handle.workerId}`);
    await runtime.remove(handle.workerId);
  });

  it('a runtime with other settings updates a service left by an earlier one when no task of it runs, and warns while one does', async () => {
    namespace = newNamespace();
    const env = { SHOAL_AMQP_URL: AMQP_URL, SHOAL_NAMESPACE: namespace, SHOAL_REDIS_URL: 'off', SHOAL_CONCURRENCY: '4' };
    const workerSpec = async () => {
      const [service] = (await poolServices(namespace)) as unknown as { Spec: { TaskTemplate: { ContainerSpec: { Env: string[] }; Resources: { Limits: { MemoryBytes: number } } } } }[];
      return { env: service!.Spec.TaskTemplate.ContainerSpec.Env, memoryBytes: service!.Spec.TaskTemplate.Resources.Limits.MemoryBytes };
    };
    // An earlier dispatcher's service, left at 0 replicas with no task running.
    const first = await swarmRuntime();
    const old = await first.start({ workerId: 'ignored', role: 'worker', env });
    await first.remove(old.workerId);
    expect(await workerSpec()).toMatchObject({ env: expect.arrayContaining(['SHOAL_CONCURRENCY=4']), memoryBytes: 256 * 1024 ** 2 });

    const second = await swarmRuntime({ memoryBytes: 128 * 1024 ** 2 });
    const handle = await second.start({ workerId: 'ignored', role: 'worker', env: { ...env, SHOAL_CONCURRENCY: '2' } });
    expect(await workerSpec()).toMatchObject({ env: expect.arrayContaining(['SHOAL_CONCURRENCY=2']), memoryBytes: 128 * 1024 ** 2 });
    const task = (await docker.getTask(handle.runtimeId).inspect()) as SwarmTask;
    const container = await docker.getContainer(task.Status.ContainerStatus!.ContainerID!).inspect();
    expect(container.HostConfig.Memory).toBe(128 * 1024 ** 2);
    expect(container.Config.Env).toContain('SHOAL_CONCURRENCY=2');

    // With that worker running, a third runtime with other settings leaves the service alone and says so.
    const warnings: string[] = [];
    const third = await swarmRuntime({ logger: pino({ level: 'warn' }, { write: (line: string) => void warnings.push(line) }) });
    const extra = await third.start({ workerId: 'ignored', role: 'worker', env: { ...env, SHOAL_CONCURRENCY: '8' } });
    expect(await workerSpec()).toMatchObject({ env: expect.arrayContaining(['SHOAL_CONCURRENCY=2']), memoryBytes: 128 * 1024 ** 2 });
    expect(warnings.join('')).toContain('the existing service has other settings than this dispatcher');
    await third.remove(extra.workerId);
    await second.remove(handle.workerId);
  }, 90_000);

  it('shoal-cleanup removes the pool\'s services and their containers, and no other pool\'s', async () => {
    namespace = newNamespace();
    const other = newNamespace();
    const bystander = await docker.createService({
      Name: `${other}-worker`,
      Labels: { 'org.shoal.pool': other },
      TaskTemplate: { ContainerSpec: { Image: WORKER_IMAGE }, RestartPolicy: { Condition: 'none' } },
      Mode: { Replicated: { Replicas: 0 } },
    });
    closers.push(() => docker.getService(bystander.id).remove());
    const runtime = await swarmRuntime();
    await runtime.start({ workerId: 'ignored', role: 'spare', env: { SHOAL_AMQP_URL: AMQP_URL, SHOAL_NAMESPACE: namespace, SHOAL_REDIS_URL: 'off' } });
    expect(await poolContainers(namespace)).toHaveLength(1);

    const cleanup = await runCli('dispatcher/tools/cleanup.js', ['--namespace', namespace]);
    expect(cleanup.stdout).toMatch(new RegExp(`removed 1 service\\(s\\) and [01] container\\(s\\) of pool "${namespace}"`));
    expect(await poolServices(namespace)).toEqual([]);
    await waitFor('the pool\'s container to go', async () => (await poolContainers(namespace)).length === 0, 20_000);
    expect(await poolServices(other)).toHaveLength(1);
  });

  it('the dispatcher with --runtime swarm scales the worker service up under load and back down, answers everything once, and removes its services on quit', async () => {
    namespace = newNamespace();
    // No spares: a promoted spare stays a task of the spare service, so growth shows in the worker service only without them.
    const started = startDispatcher([
      '--runtime', 'swarm', '--min', '1', '--max', '6', '--spares', '0', '--target-wait-p95', '200ms',
      '--scale-down-window', '3s', '--drain-grace', '20s', '--metrics-port', '0', '--namespace', namespace,
    ]);
    dispatcher = started.child;
    await waitFor('1 worker consuming', async () => (await consumerCount(topologyFor(namespace))) === 1, 30_000);
    expect((await poolServices(namespace)).length).toBe(1);

    let maxReplicas = 1;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        maxReplicas = Math.max(maxReplicas, (await runningTasks(namespace)).length);
        await sleep(250);
      }
    })();

    client = await connectClient(namespace);
    const caller = countingCaller(client);
    const RATE = 150; // x 50 ms = 7.5 busy slots: more than 1 worker of 4 can carry
    const COUNT = RATE * 8;
    const loadStart = Date.now();
    const summary = await runLoad(caller, { count: COUNT, concurrency: 2000, ratePerSec: RATE, job: 'sleep', payload: { ms: 50 }, timeoutMs: 60_000 });

    await waitFor('the pool to shrink back to 1 worker', async () => {
      const counts = countMembers(await readStatus(namespace));
      return counts.regular === 1 && counts.draining === 0 && (await runningTasks(namespace)).length === 1;
    }, 60_000);
    sampling = false;
    await sampler;
    console.log(`swarm pool: ${COUNT} requests at ${RATE}/s, ${caller.redelivered()} redelivered; worker service peaked at ${maxReplicas} running tasks, back to 1 ${((Date.now() - loadStart) / 1000).toFixed(1)} s after the load began; by worker ${JSON.stringify(Object.fromEntries(caller.byWorker))}`);

    // The dispatcher's lifecycle lines and anything it warned about, to read a failure by.
    const lines = started.output().split('\n').filter((l) => /"level":(4|5)\d|started a worker|worker drained|worker exited/.test(l));
    console.log(lines.map((l) => l.slice(0, 260)).join('\n'));
    expect(summary).toMatchObject({ sent: COUNT, ok: COUNT, errors: 0, timedOut: 0 });
    expect(client.stats).toMatchObject({ answered: COUNT, duplicatesSuppressed: 0, lateReplies: 0 });
    // As above: redeliveries only from messages the broker returned from a cancelled consumer, at most
    // the prefetch (4) for each of the 5 drains from 6 workers to 1; each request still answered once.
    expect(caller.redelivered()).toBeLessThanOrEqual(4 * 5);
    expect(maxReplicas).toBeGreaterThan(1);

    await runCli('producer/quit.js', ['--namespace', namespace]);
    expect(await exitOf(dispatcher)).toBe(0);
    expect(await poolServices(namespace)).toEqual([]);
    await waitFor('no container of the pool left', async () => (await poolContainers(namespace)).length === 0, 10_000);
  }, 120_000);
});
