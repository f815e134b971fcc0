import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { topologyFor } from '../../infra/protocol.js';
import { connectCaller } from '../../infra/transport/index.js';
import { runLoad } from '../../producer/load.js';
import type { JobContext } from '../../worker/jobs.js';
import { AMQP_URL, closeConnection, consumerCount, dropConnection, findConnection, waitFor } from '../helpers/broker.js';
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

  it('calls made while the producer reconnects share one wait for the channel: no MaxListenersExceededWarning, all answered', async () => {
    await pool.worker('steady', { concurrency: 8 });
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    const name = `shoal test waiting client ${pool.namespace}`;
    const calls: Promise<unknown>[] = [];
    // The moment the client sees the drop (its log says so), many calls arrive and must wait for the next channel.
    const logger = pino({ level: 'warn' }, {
      write(line: string) {
        if (line.includes('lost the broker connection') && calls.length === 0) {
          for (let i = 0; i < 200; i++) calls.push(client.call('echo', i, 30_000));
        }
      },
    });
    const client = await connectCaller({ amqpUrl: AMQP_URL, topology: topologyFor(pool.namespace), deliveryLimit: 5, maxBodyBytes: 1024 * 1024, name, logger });
    try {
      expect(await client.call('echo', 'before', 5000)).toMatchObject({ ok: true });
      await dropConnection(name);
      await waitFor('the client to see the drop', () => calls.length > 0);
      const replies = (await Promise.all(calls)) as { ok: boolean; result: unknown }[];
      expect(replies.map((r) => r.result)).toEqual(Array.from({ length: 200 }, (_, i) => i));
      expect(replies.every((r) => r.ok)).toBe(true);
      await sleep(100); // warnings are emitted on the next tick
      expect(warnings.map((w) => `${w.name}: ${w.message}`)).toEqual([]);
    } finally {
      process.off('warning', onWarning);
      await client.close();
    }
  });
});
