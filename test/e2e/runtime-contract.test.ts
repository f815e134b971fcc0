import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topologyFor } from '../../infra/amqp/topology.js';
import { DockerRuntime } from '../../infra/runtime/docker.js';
import { ProcessRuntime } from '../../infra/runtime/process.js';
import { SwarmRuntime } from '../../infra/runtime/swarm.js';
import type { ExitInfo, WorkerRuntime } from '../../infra/runtime/types.js';
import { AMQP_URL, consumerCount, newNamespace, removeNamespace, waitFor } from '../helpers/broker.js';
import { docker, drainSender, poolContainers, poolServices, WORKER_IMAGE } from '../helpers/docker.js';

interface RuntimeUnderTest {
  runtime: WorkerRuntime;
  /** Whether the runtime names its workers itself (Swarm names its tasks) instead of taking the spec's id. */
  namesWorkers: boolean;
  /** Kills a worker behind the runtime's back, as a crash or the OOM killer would. */
  killExternally(runtimeId: string): Promise<void>;
  /** What is left of the pool on the host once the test is done. */
  leftovers(): Promise<number>;
  /** Closes what the test opened for this runtime. */
  dispose?(): Promise<void>;
}

const runtimes: Record<string, (namespace: string) => Promise<RuntimeUnderTest>> = {
  process: async () => {
    const runtime = new ProcessRuntime({ stdio: 'ignore' });
    return {
      runtime,
      namesWorkers: false,
      killExternally: async (pid) => void process.kill(Number(pid), 'SIGKILL'),
      leftovers: async () => (await runtime.list()).filter((w) => w.running).length,
    };
  },
  docker: async (namespace) => {
    const runtime = new DockerRuntime({ docker, namespace, image: WORKER_IMAGE, memoryBytes: 256 * 1024 ** 2, cpus: 1, stopGraceMs: 10_000, logger: pino({ level: 'silent' }) });
    await runtime.watch();
    return {
      runtime,
      namesWorkers: false,
      killExternally: async (id) => void (await docker.getContainer(id).kill()),
      leftovers: async () => (await poolContainers(namespace)).length,
    };
  },
  swarm: async (namespace) => {
    const control = await drainSender(namespace);
    const runtime = new SwarmRuntime({
      docker, namespace, image: WORKER_IMAGE, memoryBytes: 256 * 1024 ** 2, cpus: 1, stopGraceMs: 10_000,
      requestDrain: control.requestDrain, logger: pino({ level: 'silent' }),
    });
    await runtime.watch();
    return {
      runtime,
      namesWorkers: true,
      // The runtime id is the task's: kill the container that runs it.
      killExternally: async (taskId) => {
        const task = (await docker.getTask(taskId).inspect()) as { Status: { ContainerStatus: { ContainerID: string } } };
        await docker.getContainer(task.Status.ContainerStatus.ContainerID).kill();
      },
      // Containers of the pool still there, and tasks the services still want to run.
      leftovers: async () => {
        const services = await poolServices(namespace);
        const tasks = services.length ? ((await docker.listTasks({ filters: { service: services.map((s) => s.ID), 'desired-state': ['running'] } })) as unknown[]) : [];
        return (await poolContainers(namespace)).length + tasks.length;
      },
      dispose: async () => {
        await control.close();
        expect(await poolServices(namespace)).toEqual([]); // close() removed the emptied services
      },
    };
  },
};

/** Every WorkerRuntime adapter must pass this suite. */
describe.each(Object.keys(runtimes))('WorkerRuntime contract: %s', (kind) => {
  let namespace: string;
  let subject: RuntimeUnderTest;
  const env = () => ({ SHOAL_AMQP_URL: AMQP_URL, SHOAL_NAMESPACE: namespace, SHOAL_REDIS_URL: 'off', SHOAL_LOG_LEVEL: 'warn' });

  beforeAll(async () => {
    namespace = newNamespace();
    subject = await runtimes[kind]!(namespace);
  });

  afterAll(async () => {
    for (const worker of await subject.runtime.list()) await subject.runtime.remove(worker.workerId);
    expect(await subject.leftovers()).toBe(0);
    await subject.runtime.close();
    await subject.dispose?.();
    await removeNamespace(namespace);
  });

  /** The first worker's id: the one asked for, or the one the runtime gave it. */
  let idA = '';

  it('starts a worker that consumes from the pool queue and is listed as running', async () => {
    const handle = await subject.runtime.start({ workerId: `${namespace}-a`, role: 'worker', env: env() });
    idA = handle.workerId;
    if (!subject.namesWorkers) expect(idA).toBe(`${namespace}-a`);
    expect(handle).toMatchObject({ role: 'worker', running: true });
    expect(await subject.runtime.list()).toEqual([expect.objectContaining({ workerId: idA, running: true })]);
    await waitFor('the worker to consume', async () => (await consumerCount(topologyFor(namespace))) === 1);
  });

  it('never has two live workers with the same id', async () => {
    if (!subject.namesWorkers) {
      await expect(subject.runtime.start({ workerId: idA, role: 'worker', env: env() })).rejects.toThrow();
      return;
    }
    // A runtime that names its workers gives a second start of the same spec a name of its own.
    const second = await subject.runtime.start({ workerId: `${namespace}-a`, role: 'worker', env: env() });
    expect(second.workerId).not.toBe(idA);
    await subject.runtime.remove(second.workerId);
    expect((await subject.runtime.list()).map((h) => h.workerId)).toEqual([idA]);
  });

  it('drains a worker: it exits 0 and stops consuming', async () => {
    await waitFor('one consumer', async () => (await consumerCount(topologyFor(namespace))) === 1);
    const info = await subject.runtime.drain(idA, 10_000);
    expect(info).toMatchObject({ workerId: idA, exitCode: 0, reason: 'exited' });
    expect(await consumerCount(topologyFor(namespace))).toBe(0);
  });

  it('removes a worker, after which it is no longer listed', async () => {
    await subject.runtime.remove(idA);
    expect(await subject.runtime.list()).toEqual([]);
    await subject.runtime.remove(idA); // removing twice is fine
  });

  it('reports a worker killed behind its back', async () => {
    const exits: ExitInfo[] = [];
    const unsubscribe = subject.runtime.onExit((info) => exits.push(info));
    const handle = await subject.runtime.start({ workerId: `${namespace}-b`, role: 'spare', env: env() });
    if (!subject.namesWorkers) expect(handle.workerId).toBe(`${namespace}-b`);
    await waitFor('the worker to consume', async () => (await consumerCount(topologyFor(namespace))) === 1);
    await subject.killExternally(handle.runtimeId);
    const [exit] = await waitFor('an exit event', () => exits.length > 0 && exits);
    expect(exit).toMatchObject({ workerId: handle.workerId, reason: 'killed' });
    expect(await subject.runtime.list()).toEqual([expect.objectContaining({ workerId: handle.workerId, role: 'spare', running: false })]);
    unsubscribe();
  });
});
