import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { topologyFor } from '../../infra/amqp/topology.js';
import { connectCaller } from '../../infra/transport/factory.js';
import { runLoad } from '../../producer/load.js';
import type { JobContext } from '../../worker/jobs.js';
import { AMQP_URL, dropConnection, waitFor } from '../helpers/broker.js';
import { usePool } from '../helpers/fixture.js';
import { connectionDropper, EACH_TRANSPORT, poolConsumers } from '../helpers/transport.js';

/**
 * BullMQ: a job whose fetch was answered on a connection the drop cut is active under the
 * worker's lock, but the worker never saw it (ioredis sends the fetch again and gets the next
 * job); it comes back only once its lock expires and a stalled check runs: 30-60 s with the
 * defaults, past a call's timeout. Short ones, as in bullmq-stall.test.ts, for the workers whose
 * connections these tests drop. (RabbitMQ ignores them.)
 */
const SHORT_LOCKS = { lockDurationMs: 2000, stalledIntervalMs: 1000, maxStalledCount: 1 };

/**
 * Connections dropped from the broker's end (RabbitMQ: closed through the
 * management API; BullMQ: CLIENT KILL of the test's own Redis connections,
 * Redis itself running on): both sides reconnect and carry on, and every call
 * is answered once.
 */
describe.each(EACH_TRANSPORT)('recovering from dropped broker connections (%s)', (transport) => {
  const pool = usePool(transport);
  /** Worker ids unique to the test: on BullMQ the worker's Redis connections are found by them. */
  const unique = (name: string) => `${name}-${pool.namespace}`;

  it('a worker reconnects and consumes again, and the requests it held are answered', async () => {
    let redelivered = 0;
    const work = async (_payload: unknown, ctx: JobContext) => {
      if (ctx.redelivered) redelivered++;
      await sleep(20);
      return ctx.messageId;
    };
    const id = unique('phoenix');
    await pool.worker(id, { concurrency: 4, handlers: { work }, bullmq: SHORT_LOCKS });
    const client = await pool.client();
    const drop = await connectionDropper(transport, pool.namespace, { worker: id });

    let dropped: Promise<number> | undefined;
    const summary = await runLoad(client, { count: 400, concurrency: 8, ratePerSec: undefined, job: 'work', payload: null, timeoutMs: 30_000 }, (o) => {
      if (o.index === 40) dropped = drop();
    });
    console.log(`${transport}: dropped ${await dropped} worker connection(s) mid-load; ${redelivered} redelivered, ${client.stats.duplicatesSuppressed} duplicate replies suppressed`);

    expect(summary).toMatchObject({ sent: 400, ok: 400, errors: 0, timedOut: 0 });
    expect(await dropped).toBeGreaterThanOrEqual(transport === 'rabbitmq' ? 1 : 3); // BullMQ: its commands, its blocking fetch, its control
    // RabbitMQ requeues what the worker held; a BullMQ job stays locked to its worker, which finishes it over the new connection.
    if (transport === 'rabbitmq') expect(redelivered).toBeGreaterThan(0);
    await waitFor('the worker to consume again', async () => (await poolConsumers(pool.namespace, transport)) === 1);
    expect(await client.call('echo', 'again', 5000)).toMatchObject({ ok: true, workerId: id });
  });

  it('the producer reconnects and its later calls go through', async () => {
    await pool.worker(unique('steady'));
    const client = await pool.client();
    expect(await client.call('echo', 1, 5000)).toMatchObject({ ok: true });

    expect(await (await connectionDropper(transport, pool.namespace, 'client'))()).toBeGreaterThanOrEqual(1);
    // Calls made while it reconnects wait for the new connection instead of failing.
    expect(await client.call('echo', 2, 10_000)).toMatchObject({ ok: true, result: 2 });
  });

  it("the producer's waiting calls survive its connection dropping: answered once each", async () => {
    await pool.worker(unique('busy'), { concurrency: 4 });
    const client = await pool.client();
    const drop = await connectionDropper(transport, pool.namespace, 'client');

    const calls = Array.from({ length: 40 }, (_, i) => client.call('sleep', { ms: 100 + i }, 30_000));
    await sleep(150); // some answered, some held by the worker, most still queued
    expect(await drop()).toBeGreaterThanOrEqual(transport === 'rabbitmq' ? 1 : 2); // BullMQ: its queue and its events reader
    const replies = await Promise.all(calls);

    expect(replies.every((r) => r.ok)).toBe(true);
    expect(client.stats.answered).toBe(40);
    expect(client.stats.calls).toBe(40);
    // RabbitMQ loses the reply address with the connection: the waiting calls are published again, and the
    // first reply wins. A BullMQ job keeps its id, and its completion event stays in the stream to be read.
    // Nor does the BullMQ client's lost-job check add any again: that would mean a completion it failed to read.
    expect(client.stats.republished > 0).toBe(transport === 'rabbitmq');
  });

  it("the worker's and the producer's connections both drop mid-load: both reconnect, every call answered once", async () => {
    const id = unique('both');
    const worker = await pool.worker(id, { concurrency: 4, bullmq: SHORT_LOCKS });
    const client = await pool.client();
    const drops = await Promise.all([connectionDropper(transport, pool.namespace, { worker: id }), connectionDropper(transport, pool.namespace, 'client')]);

    const answers = new Map<number, number>();
    let dropped: Promise<number[]> | undefined;
    const summary = await runLoad(client, { count: 400, concurrency: 8, ratePerSec: undefined, job: 'sleep', payload: { ms: 5 }, timeoutMs: 30_000 }, (o) => {
      answers.set(o.index, (answers.get(o.index) ?? 0) + 1);
      if (o.index === 100) dropped = Promise.all(drops.map((drop) => drop()));
    });
    console.log(`${transport}: dropped ${String(await dropped)} (worker, client) connection(s) mid-load; ${client.stats.republished} republished, ${client.stats.duplicatesSuppressed} duplicate replies suppressed, worker ran ${worker.stats().processed}`);

    expect(summary).toMatchObject({ sent: 400, ok: 400, errors: 0, timedOut: 0 });
    expect([...answers.values()].every((n) => n === 1) && answers.size === 400).toBe(true);
    expect(client.stats.answered).toBe(400);
    // BullMQ: no job added twice or run twice (the events reader resumed where it was; nothing was lost).
    if (transport === 'bullmq') expect([client.stats.republished, worker.stats().processed]).toEqual([0, 400]);
    await waitFor('the worker to consume again', async () => (await poolConsumers(pool.namespace, transport)) === 1);
    expect(await client.call('echo', 'after', 5000)).toMatchObject({ ok: true, workerId: id });
  });
});

/** RabbitMQ only: its client waits for a new channel after a drop; ioredis queues a BullMQ client's commands through a reconnect instead. */
describe('recovering from a dropped broker connection (rabbitmq)', () => {
  const pool = usePool('rabbitmq');

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
