import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { topologyFor } from '../../infra/amqp/topology.js';
import { encodeReply, type ControlMessage, type Reply } from '../../infra/protocol.js';
import { connectDispatcherLink, createConsumer } from '../../infra/transport/factory.js';
import type { DispatcherLink, IncomingMessage, RequestConsumer, RequestResult, Settle, TransportKind } from '../../infra/transport/types.js';
import { AMQP_URL, connectClient, newNamespace, quietLogger, REDIS_URL, removeNamespace, waitFor } from '../helpers/broker.js';
import { EACH_TRANSPORT } from '../helpers/transport.js';

/**
 * The transport ports on their own, as the runtime contract suite does for
 * runtimes: the same behaviour from each adapter, without the worker or the
 * dispatcher on top. A consumer settles what it is handed back as it is told;
 * the caller gets the reply of an ack and of a dead-letter, and a requeue (or
 * a throw) comes back with a higher delivery count; close() waits for a result
 * still to come; control messages reach the consumer they are for; the
 * dispatcher link sees the backlog.
 */
describe.each(EACH_TRANSPORT)('the transport ports (%s)', (transport: TransportKind) => {
  let namespace = '';
  const closables: { close(): Promise<void> }[] = [];

  afterEach(async () => {
    for (const c of closables.reverse()) await c.close().catch(() => undefined);
    closables.length = 0;
    await removeNamespace(namespace);
  });

  const target = () => ({ transport, amqpUrl: AMQP_URL, redisUrl: REDIS_URL, topology: topologyFor(namespace), deliveryLimit: 5, logger: quietLogger });

  /** How the test's worker answers a delivery: a settle, a throw, or a settle that comes later. */
  type Decision = Settle | 'throw' | Promise<Settle>;

  /** A consumer that settles each delivery with what `decide` says, and records what it saw. */
  async function consumer(workerId: string, decide: (message: IncomingMessage, seen: number) => Decision) {
    const deliveries: IncomingMessage[] = [];
    const controls: ControlMessage[] = [];
    const answer = (message: IncomingMessage, how: Settle): RequestResult => {
      const reply: Reply = how === 'requeue'
        ? { ok: true, result: null, workerId, timings: { queuedMs: null, serviceMs: 0 } }
        : how === 'ack'
          ? { ok: true, result: { deliveries: deliveries.length }, workerId, timings: { queuedMs: null, serviceMs: 0 } }
          : { ok: false, error: { code: 'CONTRACT', message: 'dead-lettered by the test' }, workerId, timings: { queuedMs: null, serviceMs: 0 } };
      const { replyTo, correlationId } = message.properties;
      return how === 'requeue' || !replyTo || !correlationId
        ? { settle: how }
        : { settle: how, reply: { replyTo, correlationId, body: reply, encoded: encodeReply(reply) } };
    };
    const port: RequestConsumer = await createConsumer({ ...target(), workerId, concurrency: 2 });
    closables.push(port);
    await port.start('worker', {
      deliver: (message) => {
        deliveries.push(message);
        const how = decide(message, deliveries.length);
        if (how === 'throw') throw new Error('thrown by the test');
        return typeof how === 'string' ? answer(message, how) : how.then((later) => answer(message, later));
      },
      onControl: (message) => controls.push(message),
    });
    return { port, deliveries, controls };
  }

  async function client() {
    const caller = await connectClient(namespace, 5, transport);
    closables.push(caller);
    return caller;
  }

  async function link(): Promise<DispatcherLink> {
    const onQuit = () => undefined;
    const opened = await connectDispatcherLink({ ...target(), onQuit });
    closables.push(opened);
    return opened;
  }

  it('an ack answers the caller with its reply; a dead-letter answers with its error and is not delivered again', async () => {
    namespace = newNamespace();
    const { deliveries } = await consumer('c1', (m) => (JSON.parse(m.content.toString()) as { job: string }).job === 'bad' ? 'dead-letter' : 'ack');
    const caller = await client();
    await expect(caller.call('good', null, 10_000)).resolves.toMatchObject({ ok: true, result: { deliveries: 1 }, workerId: 'c1' });
    await expect(caller.call('bad', null, 10_000)).resolves.toMatchObject({ ok: false, error: { code: 'CONTRACT' } });
    await sleep(300);
    expect(deliveries).toHaveLength(2);
  });

  it('a requeue comes back, with a higher delivery count, until it is acked', async () => {
    namespace = newNamespace();
    const { deliveries } = await consumer('c1', (_m, seen) => (seen < 3 ? 'requeue' : 'ack'));
    const caller = await client();
    await expect(caller.call('again', null, 15_000)).resolves.toMatchObject({ ok: true, result: { deliveries: 3 } });
    expect(deliveries.map((d) => Number(d.properties.headers?.['x-delivery-count'] ?? 0))).toEqual([0, 1, 2]);
  });

  it('a throw from the worker requeues the delivery: it comes back', async () => {
    namespace = newNamespace();
    const { deliveries } = await consumer('c1', (_m, seen) => (seen === 1 ? 'throw' : 'ack'));
    const caller = await client();
    await expect(caller.call('again', null, 15_000)).resolves.toMatchObject({ ok: true, result: { deliveries: 2 } });
    expect(deliveries.map((d) => Number(d.properties.headers?.['x-delivery-count'] ?? 0))).toEqual([0, 1]);
  });

  it('close() waits for a result still to come: its reply is sent before the consumer disconnects', async () => {
    namespace = newNamespace();
    let release!: (how: Settle) => void;
    const later = new Promise<Settle>((resolve) => (release = resolve));
    const { port, deliveries } = await consumer('c1', () => later);
    const caller = await client();
    const call = caller.call('slow', null, 15_000);
    await waitFor('the delivery', () => deliveries.length === 1);
    await port.stopConsuming();
    let closed = false;
    const closing = port.close().then(() => (closed = true));
    await sleep(200);
    expect(closed).toBe(false);
    release('ack');
    await closing;
    await expect(call).resolves.toMatchObject({ ok: true, result: { deliveries: 1 } });
  });

  it('control messages reach the consumer they are for: quit and cancel every one, drain and promote only the named one', async () => {
    namespace = newNamespace();
    const a = await consumer('a', () => 'ack');
    const b = await consumer('b', () => 'ack');
    const dispatcher = await link();
    expect(await dispatcher.send({ type: 'drain', workerId: 'a' })).toBe(true);
    expect(await dispatcher.send({ type: 'promote', workerId: 'b' })).toBe(true);
    expect(await dispatcher.send({ type: 'cancel', messageId: 'm1' })).toBe(true);
    expect(await dispatcher.send({ type: 'quit' })).toBe(true);
    await waitFor('every control message', () => a.controls.length === 3 && b.controls.length === 3);
    expect(a.controls.map((c) => c.type).sort()).toEqual(['cancel', 'drain', 'quit']);
    expect(b.controls.map((c) => c.type).sort()).toEqual(['cancel', 'promote', 'quit']);
    expect(await dispatcher.send({ type: 'drain', workerId: 'nobody' })).toBe(false);
  });

  it('the dispatcher link sees the backlog while nobody consumes, and stopConsuming takes no more', async () => {
    namespace = newNamespace();
    const { port, deliveries } = await consumer('c1', () => 'ack');
    await port.stopConsuming();
    const caller = await client();
    const calls = [1, 2, 3].map(() => caller.call('waits', null, 2000).catch((err: { code?: string }) => err.code));
    const dispatcher = await link();
    const depth = await waitFor('a backlog of 3', async () => {
      const d = await dispatcher.queueDepth();
      return d.ready === 3 && d;
    });
    expect(depth.source).toBe(transport === 'bullmq' ? 'bullmq' : depth.source);
    expect(await Promise.all(calls)).toEqual(['TIMEOUT', 'TIMEOUT', 'TIMEOUT']);
    expect(deliveries).toHaveLength(0);
  });
});
