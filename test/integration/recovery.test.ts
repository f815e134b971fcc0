import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { topologyFor } from '../../infra/protocol.js';
import { runLoad } from '../../producer/load.js';
import type { JobContext } from '../../worker/jobs.js';
import { closeConnection, consumerCount, dropConnection, findConnection, waitFor } from '../helpers/broker.js';
import { usePool } from '../helpers/fixture.js';

/** Connections dropped by the broker: both sides reconnect, rebuild their topology and carry on. */
describe('recovering from a dropped broker connection', () => {
  const pool = usePool();

  it('a worker reconnects and consumes again, and the requests it held are answered', async () => {
    let redelivered = 0;
    const work = async (_payload: unknown, ctx: JobContext) => {
      if (ctx.redelivered) redelivered++;
      await sleep(20);
      return ctx.messageId;
    };
    await pool.worker('phoenix', { concurrency: 4, handlers: { work } });
    const client = await pool.client();
    const connection = await findConnection('shoal worker phoenix');

    let dropped: Promise<void> | undefined;
    const summary = await runLoad(client, { count: 400, concurrency: 8, ratePerSec: undefined, job: 'work', payload: null, timeoutMs: 30_000 }, (o) => {
      if (o.index === 40) dropped = closeConnection(connection);
    });
    await dropped;

    expect(summary).toMatchObject({ sent: 400, ok: 400, errors: 0, timedOut: 0 });
    expect(redelivered).toBeGreaterThan(0); // it held requests when the connection dropped
    await waitFor('the worker to consume again', async () => (await consumerCount(topologyFor(pool.namespace))) === 1);
    expect(await client.call('echo', 'again', 5000)).toMatchObject({ ok: true, workerId: 'phoenix' });
  });

  it('the producer reconnects and its later calls go through', async () => {
    await pool.worker('steady');
    const client = await pool.client();
    expect(await client.call('echo', 1, 5000)).toMatchObject({ ok: true });

    await dropConnection(`shoal test client ${pool.namespace}`);
    // Calls made while it reconnects wait for the new channel instead of failing.
    expect(await client.call('echo', 2, 10_000)).toMatchObject({ ok: true, result: 2 });
  });

  it("the producer's waiting calls survive its connection dropping: published again, answered once each", async () => {
    await pool.worker('busy', { concurrency: 4 });
    const client = await pool.client();
    const connection = await findConnection(`shoal test client ${pool.namespace}`);

    const calls = Array.from({ length: 40 }, (_, i) => client.call('sleep', { ms: 100 + i }, 30_000));
    await sleep(150); // some answered, some held by the worker, most still queued
    await closeConnection(connection);
    const replies = await Promise.all(calls);

    expect(replies.every((r) => r.ok)).toBe(true);
    expect(client.stats.answered).toBe(40);
    expect(client.stats.republished).toBeGreaterThan(0);
    // Requests the worker had already run are run again for the new reply address: the first reply wins.
    expect(client.stats.calls).toBe(40);
  });
});
