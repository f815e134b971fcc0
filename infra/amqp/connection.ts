import type { Socket } from 'node:net';
import amqp, { type ChannelModel, type RecoveringChannelModel } from 'amqplib';
import { ShoalError } from '../errors.js';
import type { Logger } from '../log.js';

export type { ChannelModel, RecoveringChannelModel };

export interface BrokerConnectionOptions {
  url: string;
  /** Shown as the connection name in the management UI: name it after the worker or tool. */
  name: string;
  /** Runs after every (re)connect: declare topology, open channels, start consumers. */
  setup: (model: ChannelModel) => Promise<void>;
  logger: Logger;
  /** How many times to retry the very first connection before giving up. */
  initialMaxRetries?: number;
  heartbeatSeconds?: number;
  /**
   * Aborting closes the connection, whenever that happens: a first connect
   * still under way (retrying, or running `setup`) stops at once and this
   * function rejects with code CANCELLED.
   */
  signal?: AbortSignal;
}

/**
 * Opens a connection that reconnects by itself (amqplib's recovery, with
 * exponential backoff and jitter) and runs `setup` after each connect.
 * TCP noDelay is on: without it, sequential RPC round trips on loopback take
 * about 7 ms instead of 0.3 ms, because Nagle's algorithm meets delayed ACKs.
 */
export async function connectBroker(options: BrokerConnectionOptions): Promise<RecoveringChannelModel> {
  const { logger } = options;
  const connection = await amqp.connect(withHeartbeat(options.url, options.heartbeatSeconds ?? 10), {
    noDelay: true,
    clientProperties: { connection_name: options.name, product: 'shoal' },
    recovery: {
      initialDelay: 100,
      maxDelay: 5000,
      maxRetries: Infinity,
      initialMaxRetries: options.initialMaxRetries ?? 10,
      waitForConnect: false,
      setup: (model: ChannelModel) => {
        if (!coalesceWrites(model)) logger.debug('amqplib has another shape: socket writes are not coalesced');
        return options.setup(model);
      },
    },
  });
  let lastFailure: Error | undefined;
  connection.on('connect', () => logger.debug('connected to the broker'));
  connection.on('disconnect', (err: Error) => logger.warn({ err: err.message }, 'lost the broker connection; reconnecting'));
  connection.on('connect-failed', (err: Error) => {
    lastFailure = err;
    logger.debug({ err: err.message }, 'broker connection attempt failed');
  });
  connection.on('error', (err: Error) => logger.debug({ err: err.message }, 'broker connection error'));
  const { signal } = options;
  if (signal?.aborted) void connection.close().catch(() => undefined);
  else signal?.addEventListener('abort', () => void connection.close().catch(() => undefined), { once: true });
  try {
    await connection.waitForConnect();
  } catch (err) {
    if (signal?.aborted) throw new ShoalError('CANCELLED', 'the broker connection was closed before it was ready', { cause: err });
    const cause = lastFailure ?? err;
    if (cause instanceof ShoalError) throw cause;
    throw new ShoalError(
      'BROKER_UNREACHABLE',
      `cannot connect to RabbitMQ at ${redactUrl(options.url)}: ${(cause as Error).message}. ` +
        'Is it running? `npm run setup` starts it on this machine.',
      { cause },
    );
  }
  return connection;
}

/**
 * amqplib writes every frame to the socket as its own write, and with noDelay
 * each becomes a syscall and a TCP segment. Corking the socket until the end
 * of the tick sends what one tick produces (say, the replies and acks for a
 * batch of deliveries) in one writev. Measured with echo jobs on 2 cores:
 * 10-20% less CPU per request in the client process, and more throughput.
 */
export function coalesceWrites(model: ChannelModel): boolean {
  const socket = (model as unknown as { connection?: { stream?: Partial<Socket> } }).connection?.stream;
  if (!socket?.cork || !socket.uncork || !socket.write) return false; // another amqplib shape: leave it be
  const write = socket.write.bind(socket) as Socket['write'];
  let corked = false;
  socket.write = ((...args: Parameters<Socket['write']>) => {
    if (!corked) {
      corked = true;
      socket.cork!();
      process.nextTick(() => {
        corked = false;
        socket.uncork!();
      });
    }
    return write(...args);
  }) as Socket['write'];
  return true;
}

function withHeartbeat(url: string, seconds: number): string {
  const parsed = new URL(url);
  if (!parsed.searchParams.has('heartbeat')) parsed.searchParams.set('heartbeat', String(seconds));
  return parsed.toString();
}

/** Hides the password so a URL can go into logs and error messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<invalid url>';
  }
}
