import { describe, expect, it } from 'vitest';
import { TransientJobError } from '../../infra/errors.js';
import { topologyFor } from '../../infra/amqp/topology.js';
import { encodeRequestBody, HEADER_VERSION } from '../../infra/protocol.js';
import { rawChannel, waitFor } from '../helpers/broker.js';
import { usePool } from '../helpers/fixture.js';
import { useRawLine, type RawRequest } from '../helpers/raw-requests.js';
import { EACH_TRANSPORT } from '../helpers/transport.js';

const json = (value: unknown) => JSON.stringify(value);
const flaky = (attempts: { n: number }) => () => {
  attempts.n++;
  throw new TransientJobError('try again');
};

/**
 * Bad input is answered with a clear error and dead-lettered (RabbitMQ: the
 * DLQ; BullMQ: the failed set, as `shoal-dead --transport bullmq` reads it),
 * never dropped silently; the worker stays up.
 */
describe.each(EACH_TRANSPORT)('poison and bad input (%s)', (transport) => {
  const pool = usePool(transport);
  const line = useRawLine(() => pool.namespace, transport);
  /** RabbitMQ says why it dead-lettered; BullMQ's failed set keeps the error reply. */
  const deathReason = (code: string, rabbitReason = 'rejected') => (transport === 'rabbitmq' ? rabbitReason : code);

  it.each<[string, Omit<RawRequest, 'id'>, string]>([
    ['malformed JSON', { body: '{oops' }, 'MALFORMED_JSON'],
    ['a body that fails the schema (no job)', { body: json({ payload: 1 }) }, 'BAD_REQUEST'],
    ['an unknown job', { body: json({ job: 'no-such-job', payload: null }) }, 'UNKNOWN_JOB'],
    ['a bad protocol version', { body: json({ job: 'echo', payload: 1 }), version: 0 }, 'BAD_VERSION'],
    // Requeued once for an upgraded worker, then answered on the last delivery the limit allows.
    ['a newer protocol version', { body: json({ job: 'echo', payload: 1 }), version: 99 }, 'UNSUPPORTED_VERSION'],
    ['an oversized body', { body: json({ job: 'echo', payload: 'x'.repeat(4096) }) }, 'BODY_TOO_LARGE'],
  ])('answers %s with an error reply, dead-letters it once, and keeps serving', async (_what, request, code) => {
    await pool.worker('sturdy', { maxBodyBytes: 1024, deliveryLimit: 1 });
    await line.send({ id: 'c-1', ...request });

    expect(await line.reply('c-1')).toMatchObject({ ok: false, error: { code }, workerId: 'sturdy' });
    expect(await line.deadLetters(1)).toEqual([{ id: 'c-1', reason: deathReason(code) }]);
    expect(line.replies.get('c-1')).toHaveLength(1);
    const client = await pool.client(1);
    expect(await client.call('echo', 'alive', 5000)).toMatchObject({ ok: true, result: 'alive' });
  });

  it('retries a transient failure up to the delivery limit, then answers with the error and dead-letters it', async () => {
    const attempts = { n: 0 };
    await pool.worker('flaky', { deliveryLimit: 2, handlers: { flaky: flaky(attempts) } });
    const client = await pool.client(2);

    expect(await client.call('flaky', null, 10_000)).toMatchObject({ ok: false, error: { code: 'JOB_TRANSIENT' } });
    expect(attempts.n).toBe(3); // a delivery limit of 2 allows 3 deliveries (BullMQ: attempts 3)
    const dead = await line.deadLetters(1);
    expect(dead.map((d) => d.reason)).toEqual([deathReason('JOB_TRANSIENT')]);
  });

  it('recovers when a transient failure clears before the limit', async () => {
    let attempts = 0;
    await pool.worker('flaky', {
      handlers: { flaky: (_p, ctx) => { attempts++; if (ctx.deliveryCount < 2) throw new TransientJobError('not yet'); return ctx.deliveryCount; } },
    });
    const client = await pool.client();
    expect(await client.call('flaky', null, 10_000)).toMatchObject({ ok: true, result: 2 });
    expect(attempts).toBe(3);
  });
});

/** Faults only BullMQ can carry: a job's data and its attempts are whatever the adder wrote. */
describe('poison and bad input, BullMQ jobs', () => {
  const pool = usePool('bullmq');
  const line = useRawLine(() => pool.namespace, 'bullmq');

  it.each<[string, unknown]>([
    ['an empty object', {}],
    ['a bare string', '{"job":"echo"'],
    ['null', null],
    ['an array', [1, 2]],
    ['a body that is not text', { body: { job: 'echo' }, messageId: 'm' }],
  ])('answers a job whose data is %s with BAD_REQUEST and keeps it in the failed set', async (_what, data) => {
    await pool.worker('sturdy', { deliveryLimit: 1 });
    await line.send({ id: 'c-1', body: '', data });
    expect(await line.reply('c-1')).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' }, workerId: 'sturdy' });
    expect(await line.deadLetters(1)).toEqual([{ id: 'c-1', reason: 'BAD_REQUEST' }]);
  });

  it('serves a job with only a body: version, ids and times are optional', async () => {
    await pool.worker('sturdy');
    await line.send({ id: 'c-1', body: '', data: { body: json({ job: 'echo', payload: 'bare' }) } });
    expect(await line.reply('c-1')).toMatchObject({ ok: true, result: 'bare' });
  });

  it("answers on a job's last attempt even when it allows fewer than the worker's delivery limit", async () => {
    const attempts = { n: 0 };
    await pool.worker('patient', { deliveryLimit: 5, handlers: { flaky: flaky(attempts) } });
    await line.send({ id: 'newer', body: json({ job: 'echo', payload: 1 }), version: 99, attempts: 1 });
    await line.send({ id: 'flaky', body: json({ job: 'flaky', payload: null }), attempts: 2 });

    expect(await line.reply('newer')).toMatchObject({ ok: false, error: { code: 'UNSUPPORTED_VERSION' }, workerId: 'patient' });
    expect(await line.reply('flaky')).toMatchObject({ ok: false, error: { code: 'JOB_TRANSIENT' }, workerId: 'patient' });
    expect(attempts.n).toBe(2);
    const dead = await line.deadLetters(2);
    expect(dead.map((d) => `${d.id} ${d.reason}`).sort()).toEqual(['flaky JOB_TRANSIENT', 'newer UNSUPPORTED_VERSION']);
  });
});

/** Faults of AMQP's reply addressing: a BullMQ job is answered through itself, so it has no reply address to lack or to refuse. */
describe('poison and bad input, RabbitMQ reply addresses', () => {
  const pool = usePool('rabbitmq');
  const line = useRawLine(() => pool.namespace, 'rabbitmq');

  it('dead-letters a malformed message without a replyTo, and keeps serving', async () => {
    await pool.worker('sturdy');
    const client = await pool.client();
    const { connection, channel } = await rawChannel();
    channel.sendToQueue(topologyFor(pool.namespace).requestQueue, Buffer.from('{not json'), { messageId: 'bad-1' });
    await channel.waitForConfirms();
    await connection.close();

    expect(await line.deadLetters(1)).toEqual([{ id: 'bad-1', reason: 'rejected' }]);
    expect(await client.call('echo', 'alive', 5000)).toMatchObject({ ok: true, result: 'alive' });
  });

  it('survives a reply address the broker rejects: the request is retried, then dead-lettered, and other work goes on', async () => {
    // A direct reply-to name that decodes but is wrong makes the broker close the channel it is published on.
    await pool.worker('sturdy', { deliveryLimit: 1 });
    const client = await pool.client(1);
    const { connection, channel } = await rawChannel();
    const badReplyTo = 'amq.rabbitmq.reply-to.g2gCZAAQcmFiYml0QGxvY2FsaG9zdA==.xyz';
    channel.sendToQueue(topologyFor(pool.namespace).requestQueue, encodeRequestBody('echo', 1), { correlationId: 'c-bad', replyTo: badReplyTo, messageId: 'bad-reply-to' });
    await channel.waitForConfirms();
    await connection.close();

    expect(await line.deadLetters(1)).toEqual([{ id: 'bad-reply-to', reason: 'delivery_limit' }]);
    expect(await client.call('echo', 'still here', 5000)).toMatchObject({ ok: true, result: 'still here', workerId: 'sturdy' });
  });

  it('does not ack a request whose reply a named reply queue refuses, even after earlier replies there went through', async () => {
    // A named reply queue that holds one message and refuses the next: only a confirm shows the refusal.
    await pool.worker('careful', { deliveryLimit: 1 });
    const { connection, channel } = await rawChannel();
    const replyQueue = `${pool.namespace}.full-replies`;
    await channel.assertQueue(replyQueue, { exclusive: true, arguments: { 'x-max-length': 1, 'x-overflow': 'reject-publish' } });
    const requestQueue = topologyFor(pool.namespace).requestQueue;
    const send = (id: string) =>
      channel.sendToQueue(requestQueue, encodeRequestBody('echo', id), { correlationId: id, replyTo: replyQueue, messageId: id, headers: { [HEADER_VERSION]: 1 } });
    send('fits');
    await channel.waitForConfirms();
    await waitFor('the first reply in the named queue', async () => (await channel.checkQueue(replyQueue)).messageCount === 1);
    send('refused');
    await channel.waitForConfirms();

    expect(await line.deadLetters(1)).toEqual([{ id: 'refused', reason: 'delivery_limit' }]);
    await connection.close();
  });
});
