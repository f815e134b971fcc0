import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { assertTopology, topologyFor } from '../../infra/amqp/topology.js';
import { DockerRuntime } from '../../infra/runtime/docker.js';
import { SwarmRuntime } from '../../infra/runtime/swarm.js';
import type { TransportKind } from '../../infra/transport/types.js';
import { AMQP_URL, newNamespace, rawChannel, REDIS_URL, removeNamespace } from '../helpers/broker.js';
import { docker, drainSender, poolContainers, poolServices, WORKER_IMAGE } from '../helpers/docker.js';
import { drainDuringBoot, drainIdle, drainWhileConnecting, DRAIN_GRACE_MS, PROMPT_EXIT_MS, retireWhileStarting } from '../helpers/drain-timing.js';
import { EACH_TRANSPORT, poolConsumers } from '../helpers/transport.js';

/**
 * Issue 12, on Docker: a container drained while Node is still booting used
 * to lose the SIGTERM (Node as PID 1 has no default signal action) and sit in
 * `draining` until the grace killed it (exit 137). With an init process the
 * signal always lands, and the worker cancels a start under way.
 * The local-process side is test/integration/drain-while-booting.test.ts.
 */
describe('a worker container drained while it boots (Docker)', () => {
  let namespace: string;
  let runtime: DockerRuntime;
  const env = (transport: TransportKind = 'rabbitmq') => ({
    SHOAL_AMQP_URL: AMQP_URL, SHOAL_REDIS_URL: REDIS_URL, SHOAL_NAMESPACE: namespace, SHOAL_TRANSPORT: transport, SHOAL_LOG_LEVEL: 'warn',
  });

  beforeEach(async () => {
    namespace = newNamespace();
    runtime = new DockerRuntime({ docker, namespace, image: WORKER_IMAGE, memoryBytes: 256 * 1024 ** 2, cpus: 1, stopGraceMs: DRAIN_GRACE_MS, logger: pino({ level: 'silent' }) });
    await runtime.watch();
  });

  afterEach(async () => {
    for (const worker of await runtime.list()) await runtime.remove(worker.workerId);
    expect(await poolContainers(namespace)).toEqual([]);
    await runtime.close();
    await removeNamespace(namespace);
  });

  it('runs its containers with an init process, so no signal is lost while Node boots', async () => {
    const handle = await runtime.start({ workerId: `${namespace}-init`, role: 'worker', env: env() });
    const inspect = await docker.getContainer(handle.runtimeId).inspect();
    expect(inspect.HostConfig.Init).toBe(true);
  });

  // 0 ms: Node is still loading its modules (no SIGTERM handler yet); later ones land in the connect and the setup.
  it.each([0, 250, 500, 1000, 1500])('drained %i ms after its start, it is gone at once and not killed', async (afterMs) => {
    const { ms, info } = await drainDuringBoot(runtime, `${namespace}-boot`, env(), afterMs);
    console.log(`[drain] docker worker drained ${afterMs} ms into boot: gone in ${ms} ms (exit ${info.exitCode}, ${info.reason})`);
    expect(ms).toBeLessThan(PROMPT_EXIT_MS);
    expect(info.reason).toBe('exited');
    expect(info.exitCode).not.toBe(137);
    expect(await poolContainers(namespace)).toEqual([]);
    expect(await poolConsumers(namespace, 'rabbitmq')).toBe(0);
  });

  // Node has loaded and the worker is in worker.start(): the drain cancels the start, and it exits 0.
  it.each([['the broker', 'forward'], ['a broker that never answers', 'silent']] as const)('drained as it connects to %s, it exits 0 at once', async (what, mode) => {
    const { ms, info } = await drainWhileConnecting(runtime, `${namespace}-connecting`, env(), mode);
    console.log(`[drain] docker worker drained as it connects to ${what}: gone in ${ms} ms (exit ${info.exitCode}, ${info.reason})`);
    expect(info).toMatchObject({ exitCode: 0, reason: 'exited' });
    expect(ms).toBeLessThan(PROMPT_EXIT_MS);
  });

  it('a pool scaled down while its container is starting is rid of it at once', async () => {
    const { ms, exits, stateWhenRetired } = await retireWhileStarting(runtime, namespace, env());
    console.log(`[drain] docker pool retired a starting worker in ${ms} ms (exits: ${JSON.stringify(exits)})`);
    expect(stateWhenRetired).toBe('starting');
    expect(ms).toBeLessThan(PROMPT_EXIT_MS);
    expect(exits.filter((e) => e.reason === 'killed' || e.exitCode === 137)).toEqual([]);
    expect(await poolContainers(namespace)).toEqual([]);
  });

  it.each(EACH_TRANSPORT)('a drained idle worker (%s) exits 0 within a generous bound', async (transport) => {
    const { ms, info } = await drainIdle(runtime, `${namespace}-idle`, env(transport), namespace, transport);
    console.log(`[drain] docker worker (${transport}), idle and consuming, drained in ${ms} ms (exit ${info.exitCode})`);
    expect(info).toMatchObject({ exitCode: 0, reason: 'exited' });
    expect(ms).toBeLessThan(PROMPT_EXIT_MS);
    expect(await poolContainers(namespace)).toEqual([]);
  });
});

/** Swarm drains by control message (the worker's control queue), and stops tasks with SIGTERM: its tasks run under init too. */
describe('a Swarm worker drained right after its start', () => {
  it('runs under an init process, and exits 0 well within the grace', async () => {
    const namespace = newNamespace();
    // The dispatcher declares the pool's topology before it starts workers; so does this test.
    const { connection, channel } = await rawChannel();
    await assertTopology(channel, topologyFor(namespace), { deliveryLimit: 5 });
    await connection.close();
    const control = await drainSender(namespace);
    const runtime = new SwarmRuntime({
      docker, namespace, image: WORKER_IMAGE, memoryBytes: 256 * 1024 ** 2, cpus: 1, stopGraceMs: DRAIN_GRACE_MS,
      requestDrain: control.requestDrain, logger: pino({ level: 'silent' }),
    });
    await runtime.watch();
    try {
      const handle = await runtime.start({ workerId: 'ignored', role: 'worker', env: { SHOAL_AMQP_URL: AMQP_URL, SHOAL_REDIS_URL: REDIS_URL, SHOAL_NAMESPACE: namespace, SHOAL_LOG_LEVEL: 'warn' } });
      const [container] = await poolContainers(namespace);
      expect((await docker.getContainer(container!.Id).inspect()).HostConfig.Init).toBe(true);
      const began = Date.now();
      const info = await runtime.drain(handle.workerId, DRAIN_GRACE_MS);
      const ms = Date.now() - began;
      console.log(`[drain] swarm worker drained right after its start: gone in ${ms} ms (exit ${info.exitCode}, ${info.reason})`);
      expect(info).toMatchObject({ exitCode: 0, reason: 'exited' });
      expect(ms).toBeLessThan(PROMPT_EXIT_MS);
      await runtime.remove(handle.workerId);
    } finally {
      for (const worker of await runtime.list()) await runtime.remove(worker.workerId);
      await runtime.close();
      await control.close();
      await removeNamespace(namespace);
    }
    expect(await poolContainers(namespace)).toEqual([]);
    expect(await poolServices(namespace)).toEqual([]);
  });
});
