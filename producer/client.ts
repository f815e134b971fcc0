import { pino } from 'pino';
import { RemoteJobError } from '../infra/errors.js';
import { checkNamespace, durationMs, integerIn, transportForUrl, type Duration } from '../infra/library-options.js';
import type { Logger } from '../infra/log.js';
import { topologyFor } from '../infra/amqp/topology.js';
import type { Reply } from '../infra/protocol.js';
import { connectCaller } from '../infra/transport/factory.js';
import type { DeliveryStats, RpcCaller, TransportKind } from '../infra/transport/types.js';

/**
 * The application's client of a pool (the `shoal` entry point): a thin facade
 * over the transports' RPC callers (infra/transport), which the producer CLI
 * uses too. It adds typed job names, payloads and results, durations such as
 * "5s", an AbortSignal, and an error for an error reply.
 */

/** A handler as the client sees it: a function of the payload (and a context it does not care about). */
// `any` here so that handlers with narrower payload types are accepted (parameters are contravariant).
type AnyHandler = (payload: any, ...rest: any[]) => unknown;

/** A map of job names to handlers, such as `typeof handlers` of a module made with `defineHandlers`. */
export type JobMap<H> = { [J in keyof H]: AnyHandler };

/** What the client assumes without a handler map: any job name, any payload, an unknown result. */
export type AnyJobs = Record<string, (payload?: unknown) => unknown>;

export type JobName<H> = keyof H & string;
export type PayloadOf<H, J extends keyof H> = H[J] extends (payload: infer P, ...rest: never[]) => unknown ? P : never;
/** The result as the caller receives it: what the handler returns or resolves to. */
export type ResultOf<H, J extends keyof H> = H[J] extends (...args: never[]) => infer R ? Awaited<R> : never;

export interface CallOptions {
  /** How long to wait for the reply; also the request's expiry in the queue. Default: the client's (30s). */
  timeout?: Duration;
  /** Aborting rejects the call with a CancelledError (code CANCELLED) and cancels the request: the worker running it sees its handler's signal fire, and one that gets it later skips it. */
  signal?: AbortSignal;
}

/** The payload may be left out when the handler accepts undefined. */
type CallArgs<P> = undefined extends P ? [payload?: P, options?: CallOptions] : [payload: P, options?: CallOptions];

export interface ConnectOptions {
  /** amqp:// or amqps:// for RabbitMQ; redis:// or rediss:// for BullMQ. */
  url: string;
  /** The pool's namespace: it names its queues (default "shoal"). */
  namespace?: string;
  /** Default: from the URL's scheme. */
  transport?: TransportKind;
  /** Must be the pool's (default 5): the request queue is declared with it. */
  deliveryLimit?: number;
  /** Requests larger than this are refused before sending (default 1 MiB, as the workers'). */
  maxBodyBytes?: number;
  /** The timeout of calls that give none (default 30s). */
  timeout?: Duration;
  /** The connection's name in the RabbitMQ management UI and Redis CLIENT LIST. */
  name?: string;
  /** Retries of the first broker connection (default 3). */
  connectRetries?: number;
  /** A pino logger for connection warnings; silent by default. */
  logger?: Logger;
}

const DEFAULT_TIMEOUT: Duration = '30s';

export class ShoalClient<H extends JobMap<H> = AnyJobs> {
  private constructor(
    private readonly caller: RpcCaller,
    private readonly defaultTimeoutMs: number,
  ) {}

  /** @internal Use `connect()`. */
  static async open<H extends JobMap<H>>(options: ConnectOptions): Promise<ShoalClient<H>> {
    const transport = transportForUrl(options.url, options.transport);
    const namespace = checkNamespace(options.namespace ?? 'shoal');
    const defaultTimeoutMs = durationMs(options.timeout ?? DEFAULT_TIMEOUT, 'timeout');
    const caller = await connectCaller({
      transport,
      amqpUrl: transport === 'rabbitmq' ? options.url : '',
      redisUrl: transport === 'bullmq' ? options.url : undefined,
      topology: topologyFor(namespace),
      deliveryLimit: integerIn(options.deliveryLimit ?? 5, 'deliveryLimit', 1, 100),
      maxBodyBytes: options.maxBodyBytes ?? 1024 * 1024,
      name: options.name ?? `shoal client ${process.pid}`,
      logger: options.logger ?? pino({ level: 'silent' }),
      initialMaxRetries: options.connectRetries ?? 3,
    });
    return new ShoalClient<H>(caller, defaultTimeoutMs);
  }

  /**
   * Runs a job and resolves with its result. Rejects with a RemoteJobError
   * carrying the worker's code (UNKNOWN_JOB, BAD_PAYLOAD, JOB_FAILED, ...) on
   * an error reply, or with a TimeoutError, CancelledError, PublishError or
   * ValidationError when no reply came; every one is a ShoalError with a `code`.
   */
  async call<J extends JobName<H>>(job: J, ...args: CallArgs<PayloadOf<H, J>>): Promise<ResultOf<H, J>> {
    const reply = await this.request(job, ...args);
    if (!reply.ok) throw new RemoteJobError(reply.error.code, reply.error.message, reply.workerId);
    return reply.result as ResultOf<H, J>;
  }

  /**
   * Runs a job and resolves with the whole reply, ok or not: the worker that
   * ran it and its timings too. Rejects only when no reply came.
   */
  request<J extends JobName<H>>(job: J, ...args: CallArgs<PayloadOf<H, J>>): Promise<Reply> {
    const [payload, options = {}] = args;
    const timeoutMs = options.timeout === undefined ? this.defaultTimeoutMs : durationMs(options.timeout, 'timeout');
    // The protocol wants a payload key: a call without one sends null. An aborted signal
    // rejects the call with CANCELLED and cancels the request in the pool (worker/cancellation.ts).
    return this.caller.call(job, payload === undefined ? null : payload, timeoutMs, options.signal);
  }

  /** Counts of what happened on the wire (calls, confirms, republishes, late and duplicate replies). */
  get stats(): Readonly<DeliveryStats> {
    return this.caller.stats;
  }

  /** Calls waiting for their reply. */
  get inFlight(): number {
    return this.caller.inFlight;
  }

  /** Waits for the calls in flight to settle, then disconnects. Same promise on every call. */
  close(): Promise<void> {
    return this.caller.close();
  }

  /** `await using client = await connect(...)` closes the client when the block ends. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Connects to a pool. Give the type of your handler map to have job names,
 * payloads and results checked at compile time:
 *
 *   import type { handlers } from './handlers.js';
 *   const client = await connect<typeof handlers>({ url: 'amqp://localhost', namespace: 'images' });
 *   const { width } = await client.call('resize', { url, width: 200 }, { timeout: '5s' });
 */
export function connect<H extends JobMap<H> = AnyJobs>(options: ConnectOptions): Promise<ShoalClient<H>> {
  return ShoalClient.open<H>(options);
}

export type { Duration };
