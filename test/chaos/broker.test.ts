import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { topologyFor } from '../../infra/amqp/topology.js';
import { connectClient, consumerCount, newNamespace, removeNamespace, waitFor } from '../helpers/broker.js';
import { alive, loadWithFaults, printAccounting, quitAndCheckNothingLeft, rabbitmqctl, startContainerPool } from '../helpers/chaos.js';
import { runCli } from '../helpers/processes.js';

/** Faults of the broker itself: the producer, the workers and the dispatcher all have to come back. */
describe('chaos: the broker drops every connection, or restarts', () => {
  let namespace: string;
  afterEach(async () => {
    rabbitmqctl('start_app'); // whatever happened, leave the broker running
    await runCli('dispatcher/tools/cleanup.js', ['--namespace', namespace]);
    await removeNamespace(namespace);
  });

  async function survive(name: string, fault: () => Promise<void>) {
    namespace = newNamespace();
    const { child, output } = await startContainerPool(namespace, 2);
    const client = await connectClient(namespace);
    try {
      const account = await loadWithFaults(client, { count: 2000, ratePerSec: 200, job: 'sleep', payload: { ms: 20 }, timeoutMs: 90_000 }, [700], fault);
      printAccounting(name, account);
      expect(account).toMatchObject({ sent: 2000, answered: 2000, ok: 2000, lost: 0, faults: 1 });
      expect(account.republished).toBeGreaterThan(0); // calls waiting at the fault were published again
      // The workers and the dispatcher reconnected too: the pool consumes and answers quit.
      await waitFor('both workers consuming again', async () => (await consumerCount(topologyFor(namespace))) === 2, 60_000);
      expect(alive(child)).toBe(true);
    } finally {
      await client.close();
    }
    await quitAndCheckNothingLeft(namespace, child);
    return output();
  }

  it('rabbitmqctl close_all_connections mid-run: everyone reconnects and carries on, nothing lost', async () => {
    const log = await survive('close_all_connections', async () => rabbitmqctl('close_all_connections', 'shoal chaos test'));
    expect(log).toContain('lost the broker connection; reconnecting');
  });

  it('rabbitmqctl stop_app, then start_app: the durable quorum queue keeps its requests, nothing lost', async () => {
    await survive('broker stop_app/start_app', async () => {
      rabbitmqctl('stop_app');
      await sleep(3000);
      rabbitmqctl('start_app');
    });
  });
});
