import { afterEach, describe, expect, it } from 'vitest';
import { connectClient, newNamespace, removeNamespace, waitFor } from '../helpers/broker.js';
import { loadWithFaults, printAccounting, quitAndCheckNothingLeft, startContainerPool } from '../helpers/chaos.js';
import { poolContainers } from '../helpers/docker.js';
import { exitOf, runCli, startDispatcher } from '../helpers/processes.js';
import { EACH_TRANSPORT, transportArgs } from '../helpers/transport.js';

describe.each(EACH_TRANSPORT)('chaos: the dispatcher killed with SIGKILL and started again during load (%s)', (transport) => {
  let namespace: string;
  afterEach(async () => {
    await runCli('dispatcher/tools/cleanup.js', ['--namespace', namespace]);
    await removeNamespace(namespace);
  });

  it('service goes on, the new dispatcher adopts the pool, and no container is orphaned', async () => {
    namespace = newNamespace();
    const first = await startContainerPool(namespace, 2, [], {}, transport);
    const before = (await poolContainers(namespace)).map((c) => c.Id).sort();
    const client = await connectClient(namespace, 5, transport);
    let second: ReturnType<typeof startDispatcher> | undefined;
    try {
      const account = await loadWithFaults(client, { count: 2000, ratePerSec: 200, job: 'sleep', payload: { ms: 20 }, timeoutMs: 60_000 }, [500], async () => {
        first.child.kill('SIGKILL');
        await exitOf(first.child);
        second = startDispatcher(['--runtime', 'docker', '--min', '2', '--max', '2', '--spares', '0', '--metrics-port', '0', '--namespace', namespace, ...transportArgs(transport)]);
      });
      printAccounting(`dispatcher SIGKILL + restart (${transport})`, account);
      expect(account).toMatchObject({ sent: 2000, answered: 2000, ok: 2000, lost: 0, faults: 1 });
      await waitFor('the new dispatcher to adopt both workers', () => second!.output().split('adopted a running worker').length - 1 === 2, 30_000);
      expect((await poolContainers(namespace)).map((c) => c.Id).sort()).toEqual(before);
    } finally {
      await client.close();
    }
    await quitAndCheckNothingLeft(namespace, second!.child, transport);
  });
});
