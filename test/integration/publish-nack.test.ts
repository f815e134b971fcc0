import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RpcCaller } from '../../infra/transport/types.js';
import { connectClient, newNamespace, rawChannel, removeNamespace, waitFor } from '../helpers/broker.js';

const MANAGEMENT = 'http://127.0.0.1:15672/api';
const AUTH = { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}`, 'content-type': 'application/json' };

/**
 * infra/transport/README.md: "a nacked one is published again, same
 * `messageId`, with 3 publishes in all before the call fails". A broker
 * policy of this test's namespace alone caps the pool's queue at 1 message,
 * and 3 are already there (a quorum queue refuses publishes once it is over
 * its limit): the queue's own `overflow=reject-publish` then makes the broker
 * nack every request published to it.
 */
describe('a request the broker nacks (rabbitmq)', () => {
  let namespace: string;
  let client: RpcCaller | undefined;
  const policy = () => `${namespace}-full`;

  beforeEach(() => {
    namespace = newNamespace();
  });
  afterEach(async () => {
    await client?.close();
    client = undefined;
    await fetch(`${MANAGEMENT}/policies/%2F/${encodeURIComponent(policy())}`, { method: 'DELETE', headers: AUTH });
    await removeNamespace(namespace);
  });

  it('is published again, 3 publishes in all, then the call fails with PUBLISH_NACKED', async () => {
    client = await connectClient(namespace); // declares the pool's queue
    const queue = `${namespace}.requests`;
    const { connection, channel } = await rawChannel();
    try {
      for (let i = 0; i < 3; i++) channel.sendToQueue(queue, Buffer.from('{}'));
      await channel.waitForConfirms();
      const put = await fetch(`${MANAGEMENT}/policies/%2F/${encodeURIComponent(policy())}`, {
        method: 'PUT',
        headers: AUTH,
        body: JSON.stringify({ pattern: `^${queue.replace(/[.-]/g, '\\$&')}$`, definition: { 'max-length': 1 }, 'apply-to': 'queues', priority: 0 }),
      });
      expect(put.ok).toBe(true);
      await waitFor('the broker to refuse publishes to the queue', async () => {
        channel.sendToQueue(queue, Buffer.from('{}'));
        return channel.waitForConfirms().then(() => false, () => true);
      });
    } finally {
      await connection.close();
    }

    const error = await client.call('echo', 1, 5_000).catch((err: unknown) => err);
    expect(error).toMatchObject({ code: 'PUBLISH_NACKED' });
    expect(client.stats).toMatchObject({ calls: 1, confirmed: 0, republished: 2 });
  });
});
