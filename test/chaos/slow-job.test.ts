import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { topologyFor } from '../../infra/amqp/topology.js';
import { rawChannel, waitFor } from '../helpers/broker.js';
import { usePool } from '../helpers/fixture.js';

describe('chaos: a job slower than the caller will wait', () => {
  const pool = usePool();

  it('the caller gets a timeout, and a request that expired while queued is never run', async () => {
    let late = 0;
    await pool.worker('busy', {
      concurrency: 1,
      handlers: { slow: async () => sleep(1500), late: () => ++late },
    });
    const client = await pool.client();

    const slow = client.call('slow', null, 5000);
    await sleep(50); // the worker (concurrency 1) now holds the slow job
    await expect(client.call('late', null, 300)).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(await slow).toMatchObject({ ok: true });
    await sleep(500);
    expect(late).toBe(0);

    // It went to the dead-letter queue, expired, instead of being run for nobody.
    const { connection, channel } = await rawChannel();
    try {
      const dead = await waitFor('the expired request in the dead-letter queue', async () => (await channel.get(topologyFor(pool.namespace).deadQueue, { noAck: true })) || undefined);
      expect(dead.properties.type).toBe('late');
      expect(['expired', 'rejected']).toContain(dead.properties.headers?.['x-first-death-reason']);
    } finally {
      await connection.close();
    }
  });
});
