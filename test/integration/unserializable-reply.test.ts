import { randomUUID } from 'node:crypto';
import type { GetMessage } from 'amqplib';
import { Queue, QueueEvents } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { bullConnection, QUEUE_NAME, queueOptions, queuePrefix } from '../../infra/transport/bullmq/connection.js';
import { replyFromFailure } from '../../infra/transport/bullmq/job-message.js';
import { REPLY_TO_DIRECT, topologyFor } from '../../infra/amqp/topology.js';
import { HEADER_VERSION, PROTOCOL_VERSION, type Reply } from '../../infra/protocol.js';
import { rawChannel, REDIS_URL, waitFor } from '../helpers/broker.js';
import { usePool } from '../helpers/fixture.js';

/**
 * A request body JSON.parse takes (it does not recurse) but whose echo
 * JSON.stringify cannot write back (it does): the reply cannot be built.
 */
const NESTING = 100_000;
const DEEP_BODY = `{"job":"echo","payload":${'['.repeat(NESTING)}${']'.repeat(NESTING)}}`;

/**
 * A reply that cannot be serialized is answered once with REPLY_FAILED and
 * dead-lettered at once (RabbitMQ: reason `rejected`; BullMQ: failed after one
 * attempt), instead of being redelivered up to the delivery limit with its
 * caller never hearing back.
 */
describe('a reply that cannot be serialized, on RabbitMQ', () => {
  const pool = usePool('rabbitmq');

  async function deadLetter(): Promise<GetMessage> {
    const { connection, channel } = await rawChannel();
    try {
      return await waitFor('the dead letter', async () => (await channel.get(topologyFor(pool.namespace).deadQueue, { noAck: true })) || undefined);
    } finally {
      await connection.close();
    }
  }

  it('answers echo of a payload nested 100,000 deep with one REPLY_FAILED and dead-letters it as rejected, once', async () => {
    await pool.worker('w', { deliveryLimit: 2, maxBodyBytes: 1024 * 1024 });
    const { connection, channel } = await rawChannel();
    try {
      const replies: Reply[] = [];
      await channel.consume(REPLY_TO_DIRECT, (msg) => msg && replies.push(JSON.parse(msg.content.toString()) as Reply), { noAck: true });
      channel.sendToQueue(topologyFor(pool.namespace).requestQueue, Buffer.from(DEEP_BODY), {
        correlationId: 'deep-1',
        messageId: 'deep-1',
        replyTo: REPLY_TO_DIRECT,
        headers: { [HEADER_VERSION]: PROTOCOL_VERSION },
      });
      await channel.waitForConfirms();

      const dead = await deadLetter();
      expect(dead.properties.messageId).toBe('deep-1');
      expect(dead.properties.headers?.['x-first-death-reason']).toBe('rejected');
      // Delivered once: no redelivery before it was dead-lettered.
      expect(dead.properties.headers?.['x-delivery-count'] ?? 0).toBe(0);
      await waitFor('the error reply', () => replies.length > 0);
      expect(replies).toHaveLength(1);
      expect(replies[0]).toMatchObject({ ok: false, error: { code: 'REPLY_FAILED' }, workerId: 'w' });
    } finally {
      await connection.close();
    }
  });

  it('answers a job whose result cannot be serialized with REPLY_FAILED through the RPC client, after one run', async () => {
    let runs = 0;
    await pool.worker('w', { deliveryLimit: 2, handlers: { bigint: () => { runs++; return 10n; } } });
    const client = await pool.client(2);
    expect(await client.call('bigint', null, 10_000)).toMatchObject({ ok: false, error: { code: 'REPLY_FAILED', message: expect.stringMatching(/BigInt/) } });
    expect(runs).toBe(1);
    expect((await deadLetter()).properties.headers?.['x-first-death-reason']).toBe('rejected');
    expect(await client.call('echo', 'still serving', 5000)).toMatchObject({ ok: true, result: 'still serving' });
  });
});

describe('a reply that cannot be serialized, on BullMQ', () => {
  const pool = usePool('bullmq');
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
  });

  it('fails the job of echo of a payload nested 100,000 deep permanently with REPLY_FAILED, after one attempt', async () => {
    await pool.worker('w', { deliveryLimit: 2 });
    const queue = new Queue(QUEUE_NAME, queueOptions(REDIS_URL, pool.namespace, 'shoal test deep'));
    const events = new QueueEvents(QUEUE_NAME, { connection: bullConnection(REDIS_URL, 'shoal test deep events'), prefix: queuePrefix(pool.namespace) });
    closers.push(() => events.close(), () => queue.close());
    await events.waitUntilReady();
    const failures: string[] = [];
    events.on('failed', ({ failedReason }) => failures.push(failedReason));

    // As a foreign client would: the body is JSON text that shoal's client could not even encode.
    const id = `deep-${randomUUID()}`;
    const sentAt = Date.now();
    await queue.add('echo', { body: DEEP_BODY, messageId: id, version: PROTOCOL_VERSION, sentAt, deadline: sentAt + 60_000 }, { jobId: id, attempts: 3 });

    const [failed] = await waitFor('the job in the failed set', async () => { const jobs = await queue.getFailed(); return jobs.length === 1 && jobs; });
    expect(failed!.attemptsMade).toBe(1);
    expect(failures).toHaveLength(1);
    expect(replyFromFailure(failures[0]!)).toMatchObject({ ok: false, error: { code: 'REPLY_FAILED' }, workerId: 'w' });
  });

  it('answers a job whose result cannot be serialized with REPLY_FAILED through the RPC client, after one run', async () => {
    let runs = 0;
    await pool.worker('w', { deliveryLimit: 2, handlers: { bigint: () => { runs++; return 10n; } } });
    const client = await pool.client(2);
    expect(await client.call('bigint', null, 10_000)).toMatchObject({ ok: false, error: { code: 'REPLY_FAILED' } });
    expect(runs).toBe(1);
    expect(await client.call('echo', 'still serving', 5000)).toMatchObject({ ok: true, result: 'still serving' });
  });
});
