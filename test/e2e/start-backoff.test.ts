import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { topologyFor } from '../../infra/amqp/topology.js';
import { consumerCount, newNamespace, removeNamespace, waitFor } from '../helpers/broker.js';
import { docker, poolContainers, WORKER_IMAGE } from '../helpers/docker.js';
import { exitOf, runCli, startDispatcher } from '../helpers/processes.js';
import { expectBackoffSchedule, retryLines } from '../helpers/start-backoff.js';

/**
 * A worker that cannot start (its image is gone) is retried with a growing
 * delay, on the real Docker engine, while the autoscaler asks for it every
 * 250 ms. The chaos test of the same fault (test/chaos/image-missing.test.ts)
 * adds a load; this one checks the schedule alone, on an image tag of its own.
 */
describe('starting a worker whose image is missing (Docker)', () => {
  let namespace: string;
  let tag: string;
  let dispatcher: ChildProcess | undefined;

  afterEach(async () => {
    if (dispatcher && dispatcher.exitCode === null && dispatcher.signalCode === null) {
      dispatcher.kill('SIGKILL');
      await exitOf(dispatcher);
    }
    await runCli('dispatcher/tools/cleanup.js', ['--namespace', namespace]);
    await docker.getImage(tag).remove().catch(() => undefined);
    await removeNamespace(namespace);
  });

  it('backs off per restartDelayMs between attempts, and recovers when the image is back', async () => {
    namespace = newNamespace();
    tag = `shoal/worker:gone-${namespace}`;
    const [repo, version] = tag.split(':') as [string, string];
    await docker.getImage(WORKER_IMAGE).tag({ repo, tag: version });
    const started = startDispatcher(['--runtime', 'docker', '--image', tag, '--min', '1', '--max', '1', '--spares', '0', '--metrics-port', '0', '--drain-grace', '10s', '--namespace', namespace]);
    dispatcher = started.child;
    await waitFor('a consuming container', async () => (await consumerCount(topologyFor(namespace))) === 1, 30_000);

    await docker.getImage(tag).remove(); // untags it; the running container keeps its image
    const [victim] = await poolContainers(namespace);
    await docker.getContainer(victim!.Id).kill();
    await sleep(9000); // exit + 500 ms, then failed starts 1, 2 and 4 s apart
    await docker.getImage(WORKER_IMAGE).tag({ repo, tag: version });
    await waitFor('a consuming container again', async () => (await consumerCount(topologyFor(namespace))) === 1, 30_000);

    const lines = retryLines(started.output());
    const { delays, gapsMs } = expectBackoffSchedule(lines, 3);
    console.log(`missing image: ${lines.length - delays.length} exit, ${delays.length} failed starts; delays announced ${delays.join(', ')} ms; gaps between attempts ${gapsMs.join(', ')} ms`);
    // Not a crash loop: at 250 ms ticks a retry on every tick would be ~36 attempts in 9 s.
    expect(delays.length).toBeLessThanOrEqual(5);
    expect(started.output()).toContain(`worker image ${tag} not found; build it with: npm run image`);

    started.child.kill('SIGINT');
    expect(await exitOf(started.child)).toBe(0);
    expect(await poolContainers(namespace)).toEqual([]);
  });
});
