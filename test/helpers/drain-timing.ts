import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { Pool, type PoolEvent } from '../../dispatcher/pool.js';
import type { ExitInfo, WorkerRuntime } from '../../infra/runtime/types.js';
import type { TransportKind } from '../../infra/transport/types.js';
import { waitFor } from './broker.js';
import { brokerTap } from './broker-tap.js';
import { poolConsumers } from './transport.js';

/**
 * Drain timings shared by the local-process test (test/integration) and the
 * Docker one (test/e2e): the same scenarios, one runtime each. The drain
 * grace is long on purpose (30 s), so that a worker which sits until it is
 * killed stands out from one that exits by itself.
 */
export const DRAIN_GRACE_MS = 30_000;
/** Well under the grace: a drained worker with nothing in flight exits within about a second. */
export const PROMPT_EXIT_MS = 5_000;

export interface DrainTiming {
  ms: number;
  info: ExitInfo;
}

/** Starts a worker, drains it `afterMs` later (while it is still booting), and times the drain. */
export async function drainDuringBoot(runtime: WorkerRuntime, workerId: string, env: Record<string, string>, afterMs: number): Promise<DrainTiming> {
  const handle = await runtime.start({ workerId, role: 'worker', env });
  if (afterMs > 0) await sleep(afterMs);
  const began = Date.now();
  const info = await runtime.drain(handle.workerId, DRAIN_GRACE_MS);
  const ms = Date.now() - began;
  await runtime.remove(handle.workerId);
  return { ms, info };
}

/**
 * Starts a worker whose broker connection goes through a tap (see
 * broker-tap.ts), and drains it the moment it connects: it is inside
 * worker.start(), its signal handlers installed. `forward` lets the connect
 * go on to the real broker; `silent` leaves it hanging.
 */
export async function drainWhileConnecting(runtime: WorkerRuntime, workerId: string, env: Record<string, string>, mode: 'forward' | 'silent'): Promise<DrainTiming> {
  const tap = await brokerTap(mode);
  try {
    const handle = await runtime.start({ workerId, role: 'worker', env: { ...env, SHOAL_AMQP_URL: tap.url } });
    await Promise.race([tap.connected, sleep(30_000).then(() => Promise.reject(new Error('the worker did not connect within 30 s')))]);
    const began = Date.now();
    const info = await runtime.drain(handle.workerId, DRAIN_GRACE_MS);
    const ms = Date.now() - began;
    await runtime.remove(handle.workerId);
    return { ms, info };
  } finally {
    await tap.close();
  }
}

/** Starts a worker, waits until it consumes, drains it, and times the drain. */
export async function drainIdle(runtime: WorkerRuntime, workerId: string, env: Record<string, string>, namespace: string, transport: TransportKind): Promise<DrainTiming> {
  const handle = await runtime.start({ workerId, role: 'worker', env });
  await waitFor('the worker to consume', async () => (await poolConsumers(namespace, transport)) === 1, 30_000);
  const began = Date.now();
  const info = await runtime.drain(handle.workerId, DRAIN_GRACE_MS);
  const ms = Date.now() - began;
  await runtime.remove(handle.workerId);
  return { ms, info };
}

export interface PoolRetireTiming {
  /** From the scale-down to the pool's 'removed' event. */
  ms: number;
  /** Exits the runtime reported meanwhile. */
  exits: ExitInfo[];
  /** The member's state when it was chosen: it must still have been starting. */
  stateWhenRetired: string | undefined;
}

/**
 * A pool of one starts its worker and is scaled to zero at once, while the
 * worker is still starting: times how long the pool takes to be rid of it.
 */
export async function retireWhileStarting(runtime: WorkerRuntime, namespace: string, workerEnv: Record<string, string>, beforeScaleDown?: () => Promise<unknown>): Promise<PoolRetireTiming> {
  const exits: ExitInfo[] = [];
  const unsubscribe = runtime.onExit((info) => exits.push(info));
  const pool = new Pool({
    runtime, namespace, size: 1, spares: 0, workerEnv, drainGraceMs: DRAIN_GRACE_MS,
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
  });
  try {
    await pool.start();
    await beforeScaleDown?.();
    const stateWhenRetired = pool.snapshot()[0]?.state;
    const removed = new Promise<void>((resolve) => pool.on('event', (event: PoolEvent) => event.type === 'removed' && resolve()));
    const began = Date.now();
    await pool.resize(0);
    await removed;
    const ms = Date.now() - began;
    await sleep(200); // the exit event may trail the removal (Docker's event stream)
    return { ms, exits, stateWhenRetired };
  } finally {
    unsubscribe();
    await pool.shutdown();
  }
}
