import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { RpcCaller as RabbitRpcClient } from '../../infra/transport/types.js';
import { publishControl } from '../../infra/amqp/control.js';
import { topologyFor } from '../../infra/amqp/topology.js';
import { rawChannel } from '../helpers/broker.js';
import { usePool } from '../helpers/fixture.js';

/** Warm spares: low-priority consumers that the broker only feeds when the regular workers are full. */
describe('warm spares on RabbitMQ (consumer priorities; BullMQ spares: bullmq-semantics.test.ts)', () => {
  const pool = usePool();

  const sleepFor = (client: RabbitRpcClient, ms: number, n: number) => Promise.all(Array.from({ length: n }, () => client.call('sleep', { ms }, 10_000)));

  it('gets nothing while the regular worker has room, and takes the overflow at once', async () => {
    await pool.worker('regular', { concurrency: 4 });
    const spare = await pool.worker('spare', { concurrency: 2, role: 'spare' });
    const client = await pool.client();

    // Two at a time against a prefetch of 4: the regular worker always has room (its acks may
    // trail its replies by a moment, which is why it needs some headroom here).
    for (let i = 0; i < 20; i++) await client.call('echo', i, 5000);
    for (let round = 0; round < 5; round++) await sleepFor(client, 20, 2);
    expect(spare.stats().processed).toBe(0);

    const replies = await sleepFor(client, 300, 6);
    const bySpare = replies.filter((r) => r.workerId === 'spare');
    expect(bySpare).toHaveLength(2);
    // The overflow did not wait for the regular worker's 300 ms jobs: the spare took it straight away.
    for (const reply of bySpare) expect(reply.timings.queuedMs).toBeLessThan(150);
  });

  it('a promoted spare is served like a regular worker', async () => {
    await pool.worker('regular', { concurrency: 4 });
    const spare = await pool.worker('spare', { concurrency: 4, role: 'spare' });
    const client = await pool.client();

    const promoted = once(spare, 'promoted');
    const { connection, channel } = await rawChannel();
    await publishControl(channel, topologyFor(pool.namespace), { type: 'promote', workerId: 'spare' });
    await connection.close();
    await promoted;
    expect(spare.stats().role).toBe('worker');

    // One request at a time: the regular worker always has room, so only an equal priority gets the spare any.
    const servedBy: string[] = [];
    for (let i = 0; i < 20; i++) servedBy.push((await client.call('echo', i, 5000)).workerId);
    expect(servedBy.filter((id) => id === 'spare').length).toBeGreaterThan(0);
  });
});
