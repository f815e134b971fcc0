import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { ValidationError } from '../infra/errors.js';
import { checkNamespace, durationMs, integerIn, transportForUrl, type Duration } from '../infra/library-options.js';
import type { Logger } from '../infra/log.js';
import { topologyFor } from '../infra/amqp/topology.js';
import { JOB_NAME_PATTERN } from '../infra/protocol.js';
import type { TransportKind } from '../infra/transport/types.js';
import { createConsumer } from '../infra/transport/factory.js';
import { HostedWorker } from './hosted-worker.js';
import { builtinJobs, type JobContext, type JobHandlers } from './jobs.js';
import type { WorkerRole, WorkerStats } from './worker.js';

/**
 * Running a worker inside an application's own process (the `shoal/worker`
 * entry point): the same HostedWorker the worker process runs, configured in
 * code instead of by environment.
 */

/** A handler with its payload and result types, for `defineHandlers`. */
export type Handler<P = unknown, R = unknown> = (payload: P, context: JobContext) => R | Promise<R>;

/** Parameters are contravariant: `any` lets handlers with narrower payload types through. */
type AnyPayloadHandler = (payload: any, context: JobContext) => unknown;
type HandlerMap<H> = { [J in keyof H]: AnyPayloadHandler };

const WORKER_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/**
 * Declares a module's job handlers; returns them unchanged, typed, so that a
 * client can take `typeof handlers` to check its calls. Throws a
 * ValidationError (BAD_HANDLERS) for a job name a request could not carry or
 * a handler that is not a function.
 *
 * Payloads arrive as JSON from the wire: the types are a contract with your
 * callers, not a check. Validate what you must (zod, say) and throw a
 * PermanentJobError with code BAD_PAYLOAD.
 */
export function defineHandlers<const H extends HandlerMap<H>>(handlers: H): H {
  checkHandlers(handlers as Record<string, unknown>);
  return handlers;
}

function checkHandlers(handlers: Record<string, unknown>): JobHandlers {
  if (!handlers || typeof handlers !== 'object') throw new ValidationError('BAD_HANDLERS', 'handlers must be an object of job name -> function');
  for (const [name, handler] of Object.entries(handlers)) {
    if (!JOB_NAME_PATTERN.test(name)) throw new ValidationError('BAD_HANDLERS', `job name "${name}" must be letters, digits, ".", "_", ":" or "-" (at most 128)`);
    if (typeof handler !== 'function') throw new ValidationError('BAD_HANDLERS', `job handler "${name}" is not a function`);
  }
  return handlers as JobHandlers;
}

export interface RunWorkerOptions {
  /** amqp:// or amqps:// for RabbitMQ; redis:// or rediss:// for BullMQ. */
  url: string;
  /** The pool's namespace (default "shoal"). */
  namespace?: string;
  /** Default: from the URL's scheme. */
  transport?: TransportKind;
  /** The jobs this worker runs (see defineHandlers). */
  handlers: { readonly [job: string]: AnyPayloadHandler };
  /** Also run the built-in echo, sleep and cpu jobs, as the pool's own workers do (default true). */
  builtins?: boolean;
  /** Jobs run at once (default 4). */
  concurrency?: number;
  /** Its name in logs, reports and the broker's UI (default worker-<random>). */
  workerId?: string;
  /** A spare takes mostly overflow (default worker). */
  role?: WorkerRole;
  /** Must be the pool's (default 5). */
  deliveryLimit?: number;
  /** Larger requests are refused (default 1 MiB). */
  maxBodyBytes?: number;
  /**
   * Redis where the worker reports its counters, so that a dispatcher sees it.
   * Default: the url for BullMQ; no reports for RabbitMQ unless given.
   */
  reportTo?: string;
  /** How often it reports (default 1s). */
  reportInterval?: Duration;
  /** A pino logger; silent by default. */
  logger?: Logger;
}

/** A worker running in this process. */
export interface RunningWorker {
  readonly id: string;
  /** Resolves, with the reason, once it has drained and disconnected: after close(), or a drain or quit message. */
  readonly closed: Promise<string>;
  /** Its counters: processed, failed, redelivered, in flight, ... */
  stats(): WorkerStats;
  /** Stops taking requests, finishes those it holds, and disconnects. Safe to call again. */
  close(): Promise<void>;
  /** `await using worker = await runWorker(...)` closes the worker when the block ends. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** Connects a worker to a pool and starts consuming; resolves once it does. */
export async function runWorker(options: RunWorkerOptions): Promise<RunningWorker> {
  const transport = transportForUrl(options.url, options.transport);
  const namespace = checkNamespace(options.namespace ?? 'shoal');
  const workerId = options.workerId ?? `worker-${randomUUID().slice(0, 8)}`;
  if (!WORKER_ID_PATTERN.test(workerId)) throw new ValidationError('BAD_CONFIG', `workerId must be letters, digits, ".", "_" or "-" (got ${JSON.stringify(workerId)})`);
  const own = checkHandlers(options.handlers);
  const reportTo = options.reportTo ?? (transport === 'bullmq' ? options.url : undefined);
  const deliveryLimit = integerIn(options.deliveryLimit ?? 5, 'deliveryLimit', 1, 100);
  const concurrency = integerIn(options.concurrency ?? 4, 'concurrency', 1, 1000);
  const maxBodyBytes = integerIn(options.maxBodyBytes ?? 1024 * 1024, 'maxBodyBytes', 256, 64 * 1024 * 1024);
  const reportIntervalMs = durationMs(options.reportInterval ?? '1s', 'reportInterval');
  const logger = options.logger ?? pino({ level: 'silent' });
  const consumer = await createConsumer({
    transport,
    amqpUrl: transport === 'rabbitmq' ? options.url : '',
    redisUrl: transport === 'bullmq' ? options.url : undefined,
    topology: topologyFor(namespace),
    deliveryLimit,
    workerId,
    concurrency,
    logger,
  });
  const worker = new HostedWorker({
    workerId,
    consumer,
    deliveryLimit,
    maxBodyBytes,
    role: options.role ?? 'worker',
    handlers: options.builtins === false ? own : { ...builtinJobs, ...own },
    logger,
    reports: reportTo ? { redisUrl: reportTo, namespace, intervalMs: reportIntervalMs } : undefined,
  });
  await worker.start();
  return {
    id: worker.id,
    closed: worker.closed,
    stats: () => worker.stats(),
    close: () => worker.close(),
    [Symbol.asyncDispose]: () => worker.close(),
  };
}
