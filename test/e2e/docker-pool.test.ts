import type { ChildProcess } from 'node:child_process';
import type Dockerode from 'dockerode';
import { afterEach, describe, expect, it } from 'vitest';
import { topologyFor } from '../../infra/amqp/topology.js';
import { LABEL_POOL } from '../../infra/runtime/docker.js';
import { runLoad } from '../../producer/load.js';
import { connectClient, consumerCount, newNamespace, removeNamespace, waitFor } from '../helpers/broker.js';
import { docker, poolContainers, startBystander } from '../helpers/docker.js';
import { exitOf, runCli, startDispatcher } from '../helpers/processes.js';

/** The dispatcher driving a real Docker engine, checked the way a person would: docker ps by label. */
describe('dispatcher with the Docker runtime', () => {
  let namespace: string;
  let dispatchers: ChildProcess[] = [];
  let bystanders: Dockerode.Container[] = [];

  afterEach(async () => {
    for (const child of dispatchers) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exitOf(child);
      }
    }
    await runCli('dispatcher/tools/cleanup.js', ['--namespace', namespace]);
    await Promise.all(bystanders.map((c) => c.remove({ force: true }).catch(() => undefined)));
    await removeNamespace(namespace);
    dispatchers = [];
    bystanders = [];
  });

  async function startPool(size: number) {
    const started = startDispatcher(['--runtime', 'docker', '--min', String(size), '--max', String(size), '--spares', '0', '--metrics-port', '0', '--namespace', namespace, '--drain-grace', '10s']);
    dispatchers.push(started.child);
    await waitFor(`${size} consuming containers`, async () => (await consumerCount(topologyFor(namespace))) === size, 30_000);
    return started;
  }

  it('serves 1000 requests from 3 labelled containers with no ports, and leaves none after quit', async () => {
    namespace = newNamespace();
    const { child } = await startPool(3);

    const containers = await poolContainers(namespace);
    expect(containers).toHaveLength(3);
    for (const c of containers) {
      expect(c.State).toBe('running');
      expect(c.Ports).toEqual([]);
      expect(c.Labels).toMatchObject({ [LABEL_POOL]: namespace, 'org.shoal.role': 'worker' });
      const inspect = await docker.getContainer(c.Id).inspect();
      expect(inspect.HostConfig).toMatchObject({ NetworkMode: 'host', ReadonlyRootfs: true, CapDrop: ['ALL'], SecurityOpt: ['no-new-privileges'] });
      expect(inspect.HostConfig.Memory).toBeGreaterThan(0);
      expect(inspect.HostConfig.NanoCpus).toBeGreaterThan(0);
      expect(inspect.HostConfig.PortBindings ?? {}).toEqual({});
      expect(inspect.Config.User).toBe('10001:10001');
    }

    const load = await runCli('producer/cli.js', ['--count', '1000', '--json', '--namespace', namespace]);
    expect(load.code).toBe(0);
    const summary = JSON.parse(load.stdout) as { ok: number; repliesByWorker: Record<string, number> };
    expect(summary.ok).toBe(1000);
    expect(Object.keys(summary.repliesByWorker).sort()).toEqual(containers.map((c) => c.Labels['org.shoal.worker-id']).sort());

    await runCli('producer/quit.js', ['--namespace', namespace]);
    expect(await exitOf(child)).toBe(0);
    expect(await poolContainers(namespace)).toEqual([]);
  });

  it('replaces a container killed during load, and its requests are redelivered and answered', async () => {
    namespace = newNamespace();
    await startPool(2);
    const client = await connectClient(namespace);
    try {
      const [victim] = await poolContainers(namespace);
      let killed = false;
      const summary = await runLoad(client, { count: 300, concurrency: 8, ratePerSec: undefined, job: 'sleep', payload: { ms: 20 }, timeoutMs: 30_000 }, (o) => {
        if (o.index >= 40 && !killed) {
          killed = true;
          void docker.getContainer(victim!.Id).kill();
        }
      });
      expect(summary).toMatchObject({ sent: 300, ok: 300, errors: 0, timedOut: 0 });
      await waitFor('a replacement container', async () => {
        const running = (await poolContainers(namespace)).filter((c) => c.State === 'running');
        return running.length === 2 && !running.some((c) => c.Id === victim!.Id);
      }, 30_000);
    } finally {
      await client.close();
    }
  });

  it('adopts its containers after the dispatcher is killed, and orphans none', async () => {
    namespace = newNamespace();
    const first = await startPool(2);
    const before = (await poolContainers(namespace)).map((c) => c.Id).sort();
    first.child.kill('SIGKILL');
    await exitOf(first.child);
    expect((await poolContainers(namespace)).map((c) => c.Id).sort()).toEqual(before); // still running, still labelled

    const second = await startPool(2);
    await waitFor('adoption', () => second.output().split('adopted a running worker').length - 1 === 2 && true);
    expect((await poolContainers(namespace)).map((c) => c.Id).sort()).toEqual(before);

    second.child.kill('SIGINT');
    expect(await exitOf(second.child)).toBe(0);
    expect(await poolContainers(namespace)).toEqual([]);
  });

  it('never touches an unlabelled container or another pool\'s', async () => {
    namespace = newNamespace();
    bystanders = [
      await startBystander(`${namespace}-unlabelled`),
      await startBystander(`${namespace}-other-pool`, { [LABEL_POOL]: `${namespace}-other` }),
    ];
    const { child } = await startPool(1);
    child.kill('SIGINT');
    expect(await exitOf(child)).toBe(0);
    const cleanup = await runCli('dispatcher/tools/cleanup.js', ['--namespace', namespace]);
    expect(cleanup.stdout).toContain(`removed 0 service(s) and 0 container(s) of pool "${namespace}"`);

    for (const bystander of bystanders) expect((await bystander.inspect()).State.Running).toBe(true);
  });

  it('cleanup removes exactly the pool\'s containers', async () => {
    namespace = newNamespace();
    bystanders = [await startBystander(`${namespace}-unlabelled`)];
    const first = await startPool(2);
    first.child.kill('SIGKILL');
    await exitOf(first.child);

    const cleanup = await runCli('dispatcher/tools/cleanup.js', ['--namespace', namespace]);
    expect(cleanup.stdout).toContain(`removed 0 service(s) and 2 container(s) of pool "${namespace}"`);
    expect(await poolContainers(namespace)).toEqual([]);
    expect((await bystanders[0]!.inspect()).State.Running).toBe(true);
  });
});

describe('runtime choice', () => {
  it('names the build command when the image is missing', async () => {
    const result = await runCli('dispatcher/main.js', ['--runtime', 'docker', '--image', 'shoal/no-such-image:0', '--namespace', newNamespace()]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('worker image shoal/no-such-image:0 not found; build it with: npm run image');
  });

  it('says clearly that Docker is unreachable when --runtime docker is forced', async () => {
    const result = await runCli('dispatcher/main.js', ['--runtime', 'docker', '--namespace', newNamespace()], { DOCKER_HOST: 'unix:///nonexistent/docker.sock' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('--runtime docker was asked for, but the Docker engine does not answer (unix:///nonexistent/docker.sock)');
  });

  it('auto falls back to local processes without Docker, and says so', async () => {
    const namespace = newNamespace();
    const started = startDispatcher(['--runtime', 'auto', '--min', '1', '--max', '1', '--spares', '0', '--metrics-port', '0', '--namespace', namespace], { DOCKER_HOST: 'unix:///nonexistent/docker.sock' });
    try {
      await waitFor('a consuming worker', async () => (await consumerCount(topologyFor(namespace))) === 1);
      expect(started.output()).toContain('running workers as local processes');
      started.child.kill('SIGINT');
      expect(await exitOf(started.child)).toBe(0);
    } finally {
      if (started.child.exitCode === null) started.child.kill('SIGKILL');
      await removeNamespace(namespace);
    }
  });
});
