import net from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connect } from '../../producer/index.js';
import { runWorker, type RunningWorker } from '../../worker/index.js';
import { AMQP_URL, newNamespace, removeNamespace } from '../helpers/broker.js';

/** A port that refuses connections until `open()` forwards it to the broker. */
async function lateBroker() {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(5672, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => sockets.delete(socket));
    }
    client.pipe(upstream).pipe(client);
  });
  return {
    url: `amqp://guest:guest@127.0.0.1:${port}`,
    open: () => new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve)),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** infra/transport/README.md, "broker or Redis down when a worker starts": on RabbitMQ "the worker waits for the broker". */
describe('a worker started while the broker cannot be reached (rabbitmq)', () => {
  let namespace: string;
  let worker: RunningWorker | undefined;
  let broker: Awaited<ReturnType<typeof lateBroker>> | undefined;
  beforeEach(() => {
    namespace = newNamespace();
  });
  afterEach(async () => {
    await worker?.close();
    await broker?.close();
    worker = undefined;
    broker = undefined;
    await removeNamespace(namespace);
  });

  it('waits for it, and serves once it answers', async () => {
    broker = await lateBroker();
    const starting = runWorker({ url: broker.url, namespace, handlers: {}, workerId: `late-${namespace}` });
    await new Promise((resolve) => setTimeout(resolve, 1500)); // several refused attempts
    await broker.open();
    worker = await starting;

    const client = await connect({ url: AMQP_URL, namespace, timeout: '10s' });
    try {
      expect(await client.request('echo', 'late but here')).toMatchObject({ ok: true, result: 'late but here', workerId: `late-${namespace}` });
    } finally {
      await client.close();
    }
  });
});
