import { describe, expect, it } from 'vitest';
import { connect } from '../../producer/index.js';
import { AMQP_URL, waitFor } from '../helpers/broker.js';
import { useLibraryWorkers } from '../helpers/fixture.js';

const MANAGEMENT = 'http://127.0.0.1:15672/api';
const AUTH = { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` };

async function management<T>(path: string): Promise<T> {
  const response = await fetch(`${MANAGEMENT}${path}`, { headers: AUTH });
  if (!response.ok) throw new Error(`GET ${path}: HTTP ${response.status}`);
  return (await response.json()) as T;
}

interface QueueView {
  durable: boolean;
  arguments: Record<string, unknown>;
  consumer_details?: { consumer_tag: string; prefetch_count: number; channel_details: { connection_name: string } }[];
}
interface ConnectionView {
  timeout: number;
  client_properties: { connection_name?: string };
}

/**
 * What infra/transport/README.md promises a person watching the broker sees:
 * the request queue's settings, and each worker's connection and consumer,
 * read from the management API of the real broker. A worker run with the
 * library's defaults, as a user runs it.
 */
describe('the pool as the broker sees it (rabbitmq)', () => {
  const pool = useLibraryWorkers();

  it('requests go to a durable quorum queue with a delivery limit of 5 and at-least-once dead-lettering (reject-publish)', async () => {
    await pool.worker({ url: AMQP_URL, handlers: {} });
    const queue = await management<QueueView>(`/queues/%2F/${encodeURIComponent(`${pool.namespace}.requests`)}`);
    expect(queue.durable).toBe(true);
    expect(queue.arguments).toMatchObject({
      'x-queue-type': 'quorum',
      'x-delivery-limit': 5,
      'x-dead-letter-exchange': `${pool.namespace}.dlx`,
      'x-dead-letter-strategy': 'at-least-once',
      'x-overflow': 'reject-publish',
    });
  });

  it("a worker's connection is named after it and has a 10 s heartbeat; its consumer is tagged with its id, with a prefetch equal to its concurrency", async () => {
    const workerId = `view-${pool.namespace}`;
    await pool.worker({ url: AMQP_URL, handlers: {}, workerId, concurrency: 3 });

    const connection = await waitFor('the worker connection in the management API', async () => {
      const connections = await management<ConnectionView[]>('/connections?columns=timeout,client_properties.connection_name');
      return connections.find((c) => c.client_properties.connection_name === `shoal worker ${workerId}`);
    });
    expect(connection.timeout).toBe(10);

    // Consumer details come with the broker's statistics, every few seconds.
    const consumers = await waitFor('the consumer in the management API', async () => {
      const queue = await management<QueueView>(`/queues/%2F/${encodeURIComponent(`${pool.namespace}.requests`)}`);
      return queue.consumer_details?.length ? queue.consumer_details : undefined;
    });
    expect(consumers).toHaveLength(1);
    expect(consumers[0]).toMatchObject({ consumer_tag: workerId, prefetch_count: 3 });
  });

  it("a client's connection carries the name given to connect()", async () => {
    const name = `shoal view client ${pool.namespace}`;
    const client = await connect({ url: AMQP_URL, namespace: pool.namespace, name });
    try {
      await waitFor('the client connection in the management API', async () => {
        const connections = await management<ConnectionView[]>('/connections?columns=client_properties.connection_name');
        return connections.some((c) => c.client_properties.connection_name === name);
      });
    } finally {
      await client.close();
    }
  });
});
