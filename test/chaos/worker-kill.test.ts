import { afterEach, describe, expect, it } from 'vitest';
import { connectClient, newNamespace, removeNamespace, waitFor } from '../helpers/broker.js';
import { alive, loadWhileKillingWorkers, quitAndCheckNothingLeft, startContainerPool } from '../helpers/chaos.js';
import { poolContainers } from '../helpers/docker.js';
import { runCli } from '../helpers/processes.js';

describe('chaos: worker containers killed with SIGKILL during load', () => {
  let namespace: string;
  afterEach(async () => {
    await runCli('dispatcher/tools/cleanup.js', ['--namespace', namespace]);
    await removeNamespace(namespace);
  });

  it('loses nothing: the killed workers\' requests are redelivered and answered, and the pool is refilled', async () => {
    namespace = newNamespace();
    const { child } = await startContainerPool(namespace, 2);
    const client = await connectClient(namespace);
    try {
      await loadWhileKillingWorkers(client, namespace, 'worker SIGKILL x3'); // the victims' requests come back
      await waitFor('the pool refilled to 2', async () => (await poolContainers(namespace)).filter((c) => c.State === 'running').length === 2, 30_000);
      expect(alive(child)).toBe(true);
    } finally {
      await client.close();
    }
    await quitAndCheckNothingLeft(namespace, child);
  });
});
