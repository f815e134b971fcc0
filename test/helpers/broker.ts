import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import amqp from 'amqplib';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { deleteTopology, topologyFor, type Topology } from '../../infra/amqp/topology.js';
import { connectCaller, createConsumer, type BullmqWorkerSettings } from '../../infra/transport/factory.js';
import type { RpcCaller, TransportKind } from '../../infra/transport/types.js';
import { builtinJobs, type JobHandlers } from '../../worker/jobs.js';
import { Worker } from '../../worker/worker.js';
import type { WorkerRole } from '../../infra/worker-role.js';

export const AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';
export const REDIS_URL = 'redis://127.0.0.1:6379';
export const quietLogger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

/** A fresh pool namespace per test: its own queues, exchanges and Redis keys. */
export function newNamespace(): string {
  return `test-${randomUUID().slice(0, 8)}`;
}

export interface TestWorkerOptions {
  handlers?: JobHandlers;
  concurrency?: number;
  deliveryLimit?: number;
  maxBodyBytes?: number;
  role?: WorkerRole;
  transport?: TransportKind;
  bullmq?: BullmqWorkerSettings;
  /** How long its runtime would let it drain: it cancels what still runs near the end. */
  drainGraceMs?: number;
  /** BullMQ's Redis, when not the shared one (a private Redis a test restarts). */
  redisUrl?: string;
}

export async function startWorker(namespace: string, workerId: string, options: TestWorkerOptions = {}): Promise<Worker> {
  const worker = await createWorker(namespace, workerId, options);
  await worker.start();
  return worker;
}

/** A worker that is not started yet. */
export async function createWorker(namespace: string, workerId: string, options: TestWorkerOptions = {}): Promise<Worker> {
  const deliveryLimit = options.deliveryLimit ?? 5;
  const consumer = await createConsumer({
    transport: options.transport ?? 'rabbitmq',
    amqpUrl: AMQP_URL,
    redisUrl: options.redisUrl ?? REDIS_URL,
    topology: topologyFor(namespace),
    deliveryLimit,
    workerId,
    concurrency: options.concurrency ?? 4,
    bullmq: options.bullmq,
    logger: quietLogger,
  });
  return new Worker({
    workerId,
    consumer,
    deliveryLimit,
    maxBodyBytes: options.maxBodyBytes ?? 1024 * 1024,
    role: options.role ?? 'worker',
    handlers: { ...builtinJobs, ...options.handlers },
    logger: quietLogger,
    drainGraceMs: options.drainGraceMs,
  });
}

export function connectClient(namespace: string, deliveryLimit = 5, transport: TransportKind = 'rabbitmq'): Promise<RpcCaller> {
  return connectCaller({
    transport,
    redisUrl: REDIS_URL,
    amqpUrl: AMQP_URL,
    topology: topologyFor(namespace),
    deliveryLimit,
    maxBodyBytes: 1024 * 1024,
    name: `shoal test client ${namespace}`,
    logger: quietLogger,
  });
}

/** A plain channel for publishing raw (bad) messages and peeking at queues. */
export async function rawChannel() {
  const connection = await amqp.connect(AMQP_URL);
  const channel = await connection.createConfirmChannel();
  channel.on('error', () => undefined); // e.g. 404 from checkQueue: the promise rejects too
  connection.on('error', () => undefined);
  return { connection, channel };
}

/** Deletes the namespace's queues, exchanges and Redis keys. */
export async function removeNamespace(namespace: string): Promise<void> {
  const { connection, channel } = await rawChannel();
  try {
    await deleteTopology(channel, topologyFor(namespace));
  } finally {
    await connection.close();
  }
  const redis = new Redis(REDIS_URL);
  const keys = await redis.keys(`${namespace}:*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`);
    await sleep(100);
  }
}

/** Consumers on the request queue, as the broker sees them. */
export async function consumerCount(topology: Topology): Promise<number> {
  const { connection, channel } = await rawChannel();
  try {
    return (await channel.checkQueue(topology.requestQueue)).consumerCount;
  } catch {
    return 0; // not declared yet
  } finally {
    await connection.close().catch(() => undefined);
  }
}

const MANAGEMENT = 'http://127.0.0.1:15672/api';
const AUTH = { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` };

/**
 * Closes a client's connection from the broker side, as a network fault or an
 * operator would. Finds it by its connection name through the management API,
 * whose connection list lags by a few seconds.
 */
export async function dropConnection(connectionName: string): Promise<void> {
  await closeConnection(await findConnection(connectionName));
}

/** The broker's name for a client's connection ("127.0.0.1:5000 -> 127.0.0.1:5672"). */
export function findConnection(connectionName: string): Promise<string> {
  return waitFor(`connection "${connectionName}" in the management API`, async () => {
    const response = await fetch(`${MANAGEMENT}/connections?columns=name,client_properties.connection_name`, { headers: AUTH });
    const connections = (await response.json()) as { name: string; client_properties: { connection_name?: string } }[];
    return connections.find((c) => c.client_properties.connection_name === connectionName)?.name;
  });
}

export async function closeConnection(name: string): Promise<void> {
  const response = await fetch(`${MANAGEMENT}/connections/${encodeURIComponent(name)}`, { method: 'DELETE', headers: { ...AUTH, 'x-reason': 'shoal test: dropped on purpose' } });
  if (!response.ok) throw new Error(`could not close connection ${name}: HTTP ${response.status}`);
}

/** PIDs of worker processes started for a namespace, found through /proc. */
export function workerPids(namespace: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (!cmdline.includes('worker/main.js')) continue;
      const environ = readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0');
      if (environ.includes(`SHOAL_NAMESPACE=${namespace}`)) pids.push(Number(entry));
    } catch {
      // the process went away while we looked
    }
  }
  return pids;
}
