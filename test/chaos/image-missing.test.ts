import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { connectClient, newNamespace, removeNamespace, waitFor } from '../helpers/broker.js';
import { alive, loadWithFaults, printAccounting, quitAndCheckNothingLeft, startContainerPool } from '../helpers/chaos.js';
import { docker, poolContainers, WORKER_IMAGE } from '../helpers/docker.js';
import { exitOf, runCli } from '../helpers/processes.js';
import { expectBackoffSchedule, retryLines } from '../helpers/start-backoff.js';

describe('chaos: the Docker engine refuses to create a worker (its image is gone)', () => {
  let namespace: string;
  let tag: string;
  let dispatcher: ChildProcess | undefined;
  afterEach(async () => {
    // A failed assertion leaves the dispatcher running: it would start workers again after the clean-up.
    if (dispatcher && alive(dispatcher)) {
      dispatcher.kill('SIGKILL');
      await exitOf(dispatcher);
    }
    await docker.getImage(tag).remove().catch(() => undefined);
    await runCli('dispatcher/tools/cleanup.js', ['--namespace', namespace]);
    await removeNamespace(namespace);
  });

  it('logs a clear error, backs off instead of crash-looping, and recovers when the image is back', async () => {
    namespace = newNamespace();
    tag = `shoal/worker:chaos-${namespace}`;
    const [repo, version] = tag.split(':') as [string, string];
    await docker.getImage(WORKER_IMAGE).tag({ repo, tag: version });
    const { child, output } = await startContainerPool(namespace, 2, ['--image', tag]);
    dispatcher = child;
    const client = await connectClient(namespace);
    try {
      const account = await loadWithFaults(client, { count: 1500, ratePerSec: 150, job: 'sleep', payload: { ms: 10 }, timeoutMs: 60_000 }, [300], async () => {
        await docker.getImage(tag).remove(); // untags it; the running containers keep their image
        const [victim] = await poolContainers(namespace);
        await docker.getContainer(victim!.Id).kill();
        await sleep(6000); // the dispatcher tries to replace it and cannot
        await docker.getImage(WORKER_IMAGE).tag({ repo, tag: version });
      });
      printAccounting('worker create refused (image missing) for 6 s', account);
      expect(account).toMatchObject({ sent: 1500, answered: 1500, ok: 1500, lost: 0 });
      await waitFor('the pool back at 2', async () => (await poolContainers(namespace)).filter((c) => c.State === 'running').length === 2, 40_000);
    } finally {
      await client.close();
    }
    // The backoff schedule itself (pool.ts restartDelayMs), not just a count, which a retry on every tick also kept under 8.
    const { delays, gapsMs } = expectBackoffSchedule(retryLines(output()), 2);
    console.log(`image missing: ${delays.length} failed starts, delays announced ${delays.join(', ')} ms, gaps between attempts ${gapsMs.join(', ')} ms`);
    expect(delays.length).toBeLessThan(8); // backoff: 0.5, 1, 2, 4 s ... not a crash loop
    expect(output()).toContain(`worker image ${tag} not found; build it with: npm run image`);
    expect(alive(child)).toBe(true);

    await quitAndCheckNothingLeft(namespace, child);
  });
});
