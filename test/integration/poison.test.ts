import type { GetMessage } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { TransientJobError } from '../../infra/errors.js';
import { encodeRequestBody, HEADER_VERSION, REPLY_TO_DIRECT, topologyFor } from '../../infra/protocol.js';
import { rawChannel, waitFor } from '../helpers/broker.js';
import { usePool } from '../helpers/fixture.js';

/** Bad input is answered (when there is someone to answer) and dead-lettered; the worker stays up. */
describe('poison and bad input', () => {
  const pool = usePool();

  async function deadLetters(count: number): Promise<GetMessage[]> {
    const { connection, channel } = await rawChannel();
    try {
      const found: GetMessage[] = [];
      await waitFor(`${count} dead letters`, async () => {
        const msg = await channel.get(topologyFor(pool.namespace).deadQueue, { noAck: true });
        if (msg) found.push(msg);
        return found.length >= count;
      });
      return found;
    } finally {
      await connection.close();
    }
  }

  it('dead-letters a malformed message without a replyTo, and keeps serving', async () => {
    await pool.worker('sturdy');
    const client = await pool.client();
    const { connection, channel } = await rawChannel();
    channel.sendToQueue(topologyFor(pool.namespace).requestQueue, Buffer.from('{not json'), { messageId: 'bad-1' });
    await channel.waitForConfirms();
    await connection.close();

    const [dead] = await deadLetters(1);
    expect(dead?.content.toString()).toBe('{not json');
    expect(dead?.properties.headers?.['x-first-death-reason']).toBe('rejected');
    expect(await client.call('echo', 'alive', 5000)).toMatchObject({ ok: true, result: 'alive' });
  });

  it.each([
    ['malformed JSON', Buffer.from('{oops'), {}, 'MALFORMED_JSON'],
    ['a body that fails the schema', Buffer.from(JSON.stringify({ payload: 1 })), {}, 'BAD_REQUEST'],
    ['a newer protocol version', Buffer.from(JSON.stringify({ job: 'echo', payload: 1 })), { [HEADER_VERSION]: 99 }, 'UNSUPPORTED_VERSION'],
    ['an oversized body', Buffer.from(JSON.stringify({ job: 'echo', payload: 'x'.repeat(4096) })), {}, 'BODY_TOO_LARGE'],
  ])('answers %s with an error reply and dead-letters it', async (_what, body, headers, code) => {
    await pool.worker('sturdy', { maxBodyBytes: 1024, deliveryLimit: 1 });
    const { connection, channel } = await rawChannel();
    try {
      const replies: unknown[] = [];
      await channel.consume(REPLY_TO_DIRECT, (msg) => msg && replies.push(JSON.parse(msg.content.toString())), { noAck: true });
      channel.sendToQueue(topologyFor(pool.namespace).requestQueue, body, { correlationId: 'c-1', replyTo: REPLY_TO_DIRECT, headers });
      await channel.waitForConfirms();
      const [reply] = await waitFor('an error reply', () => replies.length > 0 && replies);
      expect(reply).toMatchObject({ ok: false, error: { code }, workerId: 'sturdy' });
    } finally {
      await connection.close();
    }
    expect(await deadLetters(1)).toHaveLength(1);
  });

  it('retries a transient failure up to the delivery limit, then answers with the error and dead-letters it', async () => {
    let attempts = 0;
    await pool.worker('flaky', {
      deliveryLimit: 2,
      handlers: { flaky: () => { attempts++; throw new TransientJobError('try again'); } },
    });
    const client = await pool.client(2);

    expect(await client.call('flaky', null, 10_000)).toMatchObject({ ok: false, error: { code: 'JOB_TRANSIENT' } });
    expect(attempts).toBe(3); // a delivery limit of 2 allows 3 deliveries
    expect(await deadLetters(1)).toHaveLength(1);
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

  it('survives a reply address the broker rejects: the request is retried, then dead-lettered, and other work goes on', async () => {
    // A direct reply-to name that decodes but is wrong makes the broker close the channel it is published on.
    await pool.worker('sturdy', { deliveryLimit: 1 });
    const client = await pool.client(1);
    const { connection, channel } = await rawChannel();
    const badReplyTo = 'amq.rabbitmq.reply-to.g2gCZAAQcmFiYml0QGxvY2FsaG9zdA==.xyz';
    channel.sendToQueue(topologyFor(pool.namespace).requestQueue, encodeRequestBody('echo', 1), { correlationId: 'c-bad', replyTo: badReplyTo, messageId: 'bad-reply-to' });
    await channel.waitForConfirms();
    await connection.close();

    const [dead] = await deadLetters(1);
    expect(dead?.properties.messageId).toBe('bad-reply-to');
    expect(dead?.properties.headers?.['x-first-death-reason']).toBe('delivery_limit');
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

    const [dead] = await deadLetters(1);
    expect(dead?.properties.messageId).toBe('refused');
    expect(dead?.properties.headers?.['x-first-death-reason']).toBe('delivery_limit');
    await connection.close();
  });
});
