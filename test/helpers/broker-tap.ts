import net from 'node:net';
import { once } from 'node:events';

export interface BrokerTap {
  /** The broker URL to give the worker: it goes through the tap. */
  url: string;
  /** Resolves when the first client connects: from then on the worker is inside worker.start(). */
  connected: Promise<void>;
  close(): Promise<void>;
}

/**
 * A TCP listener in front of the broker, so a test sees the moment a worker
 * opens its broker connection. `forward` relays to the real broker; `silent`
 * accepts and never answers (a broker that hangs), so the worker's connect
 * stays under way.
 */
export async function brokerTap(mode: 'forward' | 'silent', brokerPort = 5672): Promise<BrokerTap> {
  const sockets = new Set<net.Socket>();
  let onConnect = () => {};
  const connected = new Promise<void>((resolve) => (onConnect = resolve));
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('error', () => undefined).on('close', () => sockets.delete(client));
    onConnect();
    if (mode === 'silent') return;
    const upstream = net.connect(brokerPort, '127.0.0.1');
    sockets.add(upstream);
    upstream.on('error', () => client.destroy()).on('close', () => {
      sockets.delete(upstream);
      client.destroy();
    });
    client.on('close', () => upstream.destroy());
    client.pipe(upstream).pipe(client);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `amqp://guest:guest@127.0.0.1:${port}`,
    connected,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
