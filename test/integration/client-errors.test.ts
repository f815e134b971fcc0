import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connect, PublishError, ShoalError, ValidationError } from '../../producer/index.js';
import { AMQP_URL, newNamespace, rawChannel, removeNamespace } from '../helpers/broker.js';

/**
 * The client's own rejections that the READMEs promise (producer/README.md's
 * error table, infra/transport/README.md's error codes), against the real
 * broker, with no worker: the broker or a raw replier plays the other side.
 */
describe('the errors the client raises itself (rabbitmq)', () => {
  let namespace: string;
  beforeEach(() => {
    namespace = newNamespace();
  });
  afterEach(async () => {
    await removeNamespace(namespace);
  });

  it("rejects a call with PublishError UNROUTABLE when the pool's queue does not exist, instead of losing it", async () => {
    const client = await connect({ url: AMQP_URL, namespace });
    // connect() declares the pool's queue; an operator deletes it behind the client's back.
    const { connection, channel } = await rawChannel();
    await channel.deleteQueue(`${namespace}.requests`);
    await connection.close();
    try {
      const error = await client.call('echo', 1, { timeout: '10s' }).catch((err: unknown) => err);
      expect(error).toBeInstanceOf(PublishError);
      expect(error).toMatchObject({ code: 'UNROUTABLE' });
    } finally {
      await client.close();
    }
  });

  it('rejects a call whose reply is not a reply with ValidationError MALFORMED_REPLY', async () => {
    // A stand-in for a broken worker: it takes the request and answers with bytes that are not JSON.
    const client = await connect({ url: AMQP_URL, namespace }); // declares the pool's queue
    const { connection, channel } = await rawChannel();
    await channel.consume(`${namespace}.requests`, (msg) => {
      if (!msg) return;
      channel.publish('', msg.properties.replyTo as string, Buffer.from('{not json'), { correlationId: msg.properties.correlationId as string });
      channel.ack(msg);
    });
    try {
      const error = await client.call('echo', 1, { timeout: '10s' }).catch((err: unknown) => err);
      expect(error).toBeInstanceOf(ValidationError);
      expect(error).toMatchObject({ code: 'MALFORMED_REPLY' });
    } finally {
      await client.close();
      await connection.close();
    }
  });

  it('rejects a call made after close() with CLIENT_CLOSED', async () => {
    const client = await connect({ url: AMQP_URL, namespace });
    await client.close();
    const error = await client.call('echo', 1).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ShoalError);
    expect(error).toMatchObject({ code: 'CLIENT_CLOSED' });
  });
});
