import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import { z } from 'zod';
import { PermanentJobError, ShoalError } from '../infra/errors.js';

/**
 * The job handler contract.
 *
 * A handler gets the request's payload and a context, and returns the result
 * (any JSON value) or a promise of it.
 * - Throw (or reject with) any error for a permanent failure: the caller gets
 *   `{ok:false, error:{code, message}}` and the request is dead-lettered.
 *   Throw a `PermanentJobError` to choose the code.
 * - Throw a `TransientJobError` to have the request retried (requeued); after
 *   the queue's delivery limit it is answered as a failure and dead-lettered.
 * - Delivery is at least once: a handler may see the same `messageId` again
 *   (`redelivered`, `deliveryCount`) after a worker crash. Make side effects
 *   idempotent, keyed on `messageId`.
 */
export interface JobContext {
  messageId: string;
  workerId: string;
  /** Deliveries before this one; 0 on the first. */
  deliveryCount: number;
  redelivered: boolean;
  /** Epoch ms after which the caller has stopped waiting, if it said. */
  deadline: number | undefined;
  /**
   * Fires when the job should stop: its deadline passed, its caller cancelled
   * it, or the worker's drain grace ran out. A handler that honours it (for
   * example by passing it on to fetch or timers) stops early; the request is
   * then acked, with a CANCELLED reply if its caller still waits. Ignoring it
   * is safe: the job then runs to the end as before.
   */
  signal: AbortSignal;
}

export type JobHandler = (payload: unknown, context: JobContext) => unknown;
export type JobHandlers = Readonly<Record<string, JobHandler>>;

const MAX_SLEEP_MS = 10 * 60_000;
const MAX_CPU_ITERATIONS = 10_000_000;
const CPU_SLICE = 1000;

function parsePayload<T extends z.ZodType>(schema: T, payload: unknown, job: string): z.output<T> {
  const parsed = schema.safeParse(payload ?? {});
  if (!parsed.success) {
    throw new PermanentJobError(`bad payload for ${job}: ${z.prettifyError(parsed.error).replace(/\n/g, '; ')}`, {
      code: 'BAD_PAYLOAD',
    });
  }
  return parsed.data;
}

const sleepPayload = z.object({ ms: z.number().int().min(0).max(MAX_SLEEP_MS) });
const cpuPayload = z.object({ iterations: z.number().int().min(1).max(MAX_CPU_ITERATIONS) });

export const builtinJobs: JobHandlers = {
  /** Returns its payload: the cheapest round trip. */
  echo: (payload) => payload ?? null,
  /** Waits `ms` milliseconds: stands in for I/O-bound work. */
  sleep: async (payload, context) => {
    const { ms } = parsePayload(sleepPayload, payload, 'sleep');
    await sleep(ms, undefined, { signal: context.signal });
    return { sleptMs: ms };
  },
  /** Hashes `iterations` times: real CPU-bound work. */
  cpu: async (payload, context) => {
    const { iterations } = parsePayload(cpuPayload, payload, 'cpu');
    let digest = Buffer.alloc(32);
    for (let i = 0; i < iterations; i++) {
      digest = createHash('sha256').update(digest).digest();
      // A slice of about a millisecond, then a turn of the event loop: the signal's timers and control messages get to run.
      if (i % CPU_SLICE === CPU_SLICE - 1) {
        await new Promise(setImmediate);
        context.signal.throwIfAborted();
      }
    }
    return { iterations, digest: digest.toString('hex') };
  },
};

/**
 * Loads a user's handler module (its default export or its `handlers` export:
 * an object of job name -> handler) on top of the built-in jobs.
 */
export async function loadJobHandlers(modulePath: string | undefined): Promise<JobHandlers> {
  if (!modulePath) return builtinJobs;
  const url = pathToFileURL(path.resolve(modulePath)).href;
  let loaded: Record<string, unknown>;
  try {
    loaded = (await import(url)) as Record<string, unknown>;
  } catch (err) {
    throw new ShoalError('BAD_HANDLERS', `cannot load job handlers from ${modulePath}: ${(err as Error).message}`, { cause: err });
  }
  const exported = (loaded.handlers ?? loaded.default) as Record<string, unknown> | undefined;
  if (!exported || typeof exported !== 'object') {
    throw new ShoalError('BAD_HANDLERS', `${modulePath} must export an object of job handlers as default or as "handlers"`);
  }
  for (const [name, handler] of Object.entries(exported)) {
    if (typeof handler !== 'function') {
      throw new ShoalError('BAD_HANDLERS', `job handler "${name}" in ${modulePath} is not a function`);
    }
  }
  return { ...builtinJobs, ...(exported as JobHandlers) };
}
