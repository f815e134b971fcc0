import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topologyFor } from '../../infra/protocol.js';
import { DockerRuntime } from '../../infra/runtime/docker.js';
import { ProcessRuntime } from '../../infra/runtime/process.js';
import type { ExitInfo, WorkerRuntime } from '../../infra/runtime/types.js';
import { AMQP_URL, consumerCount, newNamespace, removeNamespace, waitFor } from '../helpers/broker.js';
import { docker, poolContainers, WORKER_IMAGE } from '../helpers/docker.js';

interface RuntimeUnderTest {
  runtime: WorkerRuntime;
  /** Kills a worker behind the runtime's back, as a crash or the OOM killer would. */
  killExternally(runtimeId: string): Promise<void>;
  /** What is left of the pool on the host once the test is done. */
  leftovers(): Promise<number>;
}

const runtimes: Record<string, (namespace: string) => Promise<RuntimeUnderTest>> = {
  process: async () => {
    const runtime = new ProcessRuntime({ stdio: 'ignore' });
    return {
      runtime,
      killExternally: async (pid) => void process.kill(Number(pid), 'SIGKILL'),
      leftovers: async () => (await runtime.list()).filter((w) => w.running).length,
    };
  },
  docker: async (namespace) => {
    const runtime = new DockerRuntime({ docker, namespace, image: WORKER_IMAGE, memoryBytes: 256 * 1024 ** 2, cpus: 1, stopGraceMs: 10_000, logger: pino({ level: 'silent' }) });
    await runtime.watch();
    return {
      runtime,
      killExternally: async (id) => void (await docker.getContainer(id).kill()),
      leftovers: async () => (await poolContainers(namespace)).length,
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
    await removeNamespace(namespace);
  });

  it('starts a worker that consumes from the pool queue and is listed as running', async () => {
    const handle = await subject.runtime.start({ workerId: `${namespace}-a`, role: 'worker', env: env() });
    expect(handle).toMatchObject({ workerId: `${namespace}-a`, role: 'worker', running: true });
    expect(await subject.runtime.list()).toEqual([expect.objectContaining({ workerId: `${namespace}-a`, running: true })]);
    await waitFor('the worker to consume', async () => (await consumerCount(topologyFor(namespace))) === 1);
  });

  it('refuses a second worker with the same id', async () => {
    await expect(subject.runtime.start({ workerId: `${namespace}-a`, role: 'worker', env: env() })).rejects.toThrow();
  });

  it('drains a worker: it exits 0 and stops consuming', async () => {
    const info = await subject.runtime.drain(`${namespace}-a`, 10_000);
    expect(info).toMatchObject({ workerId: `${namespace}-a`, exitCode: 0, reason: 'exited' });
    expect(await consumerCount(topologyFor(namespace))).toBe(0);
  });

  it('removes a worker, after which it is no longer listed', async () => {
    await subject.runtime.remove(`${namespace}-a`);
    expect(await subject.runtime.list()).toEqual([]);
    await subject.runtime.remove(`${namespace}-a`); // removing twice is fine
  });

  it('reports a worker killed behind its back', async () => {
    const exits: ExitInfo[] = [];
    const unsubscribe = subject.runtime.onExit((info) => exits.push(info));
    const handle = await subject.runtime.start({ workerId: `${namespace}-b`, role: 'spare', env: env() });
    await waitFor('the worker to consume', async () => (await consumerCount(topologyFor(namespace))) === 1);
    await subject.killExternally(handle.runtimeId);
    const [exit] = await waitFor('an exit event', () => exits.length > 0 && exits);
    expect(exit).toMatchObject({ workerId: `${namespace}-b`, reason: 'killed' });
    expect(await subject.runtime.list()).toEqual([expect.objectContaining({ workerId: `${namespace}-b`, role: 'spare', running: false })]);
    unsubscribe();
  });
});
