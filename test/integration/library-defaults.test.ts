import { afterEach, describe, expect, it } from 'vitest';
import { connect, type ShoalClient } from '../../producer/index.js';
import { AMQP_URL } from '../helpers/broker.js';
import { useLibraryWorkers } from '../helpers/fixture.js';

/** producer/README.md: "`connect` options: ... `deliveryLimit` (the pool's, default 5), ... `timeout` (default `30s`)", and close() "waits for the calls in flight". */
describe('connect() defaults, and close() (rabbitmq)', () => {
  const pool = useLibraryWorkers();
  let client: ShoalClient | undefined;
  afterEach(async () => {
    await client?.close();
    client = undefined;
  });

  it("declares the pool's queue with a delivery limit of 5, and gives a call 30 s", async () => {
    client = await connect({ url: AMQP_URL, namespace: pool.namespace });
    const response = await fetch(`http://127.0.0.1:15672/api/queues/%2F/${encodeURIComponent(`${pool.namespace}.requests`)}`, {
      headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` },
    });
    expect(((await response.json()) as { arguments: Record<string, unknown> }).arguments).toMatchObject({ 'x-delivery-limit': 5 });

    await pool.worker({ url: AMQP_URL, handlers: { timeLeft: (_payload, ctx) => (ctx.deadline ?? 0) - Date.now() } });
    const timeLeft = (await client.call('timeLeft')) as number;
    expect(timeLeft).toBeGreaterThan(25_000);
    expect(timeLeft).toBeLessThanOrEqual(30_000);
  });

  it('close() waits for the calls in flight: they are answered, not dropped', async () => {
    await pool.worker({ url: AMQP_URL, handlers: {} });
    const closing = await connect({ url: AMQP_URL, namespace: pool.namespace });
    const calls = [1, 2, 3].map(() => closing.call('sleep', { ms: 300 }));
    await new Promise((resolve) => setTimeout(resolve, 50)); // published, not yet answered
    await closing.close();
    expect(await Promise.allSettled(calls)).toEqual([1, 2, 3].map(() => ({ status: 'fulfilled', value: { sleptMs: 300 } })));
  });
});
