import { Worker as BullWorker } from 'bullmq';
import amqp from 'amqplib';
import { pino } from 'pino';
import { topologyFor } from '../../../infra/amqp/topology.js';
import { bullConnection } from '../../../infra/transport/bullmq/connection.js';
import { createConsumer } from '../../../infra/transport/factory.js';
import { builtinJobs } from '../../../worker/jobs.js';
import { Worker } from '../../../worker/worker.js';

/**
 * The worker side of every kind the request-path benchmarks compare: shoal's
 * Worker on either transport, and the references written with the client
 * libraries alone. Each runs in a worker-host process, so that its CPU is
 * measured apart from the producer's.
 */
export type WorkerKind = 'shoal' | 'raw-bare' | 'raw-guaranteed' | 'shoal-bullmq' | 'bullmq-fair';

export interface WorkerSpec {
  kind: WorkerKind;
  workerId: string;
  amqpUrl: string;
  redisUrl: string;
  namespace: string;
  queueType: 'quorum' | 'classic';
  /** Prefetch (RabbitMQ) or concurrency (BullMQ). */
  concurrency: number;
}

/** A started worker; close() stops it. */
export interface RunningWorker {
  close(): Promise<void>;
}

const logger = pino({ level: 'silent' });

export async function startWorker(spec: WorkerSpec): Promise<RunningWorker> {
  switch (spec.kind) {
    case 'shoal':
    case 'shoal-bullmq':
      return startShoal(spec);
    case 'raw-bare':
    case 'raw-guaranteed':
      return startRawAmqp(spec);
    case 'bullmq-fair':
      return startBullmqFair(spec);
  }
}

async function startShoal(spec: WorkerSpec): Promise<RunningWorker> {
  const bull = spec.kind === 'shoal-bullmq';
  const consumer = await createConsumer({
    transport: bull ? 'bullmq' : 'rabbitmq',
    amqpUrl: spec.amqpUrl,
    redisUrl: bull ? spec.redisUrl : undefined,
    topology: topologyFor(spec.namespace),
    queueType: spec.queueType,
    deliveryLimit: 5,
    workerId: spec.workerId,
    concurrency: spec.concurrency,
    logger,
  });
  const worker = new Worker({
    workerId: spec.workerId,
    consumer,
    deliveryLimit: 5,
    maxBodyBytes: 1 << 20,
    role: 'worker',
    handlers: builtinJobs,
    logger,
  });
  await worker.start();
  return worker;
}

/**
 * What a careful person writes with amqplib alone: prefetch, manual ack, the
 * reply published on the consuming channel just before the ack (the broker
 * takes one channel's frames in order, so the ack cannot overtake the reply).
 * Both RabbitMQ references share it: they differ on the producer's side.
 */
async function startRawAmqp(spec: WorkerSpec): Promise<RunningWorker> {
  const conn = await amqp.connect(spec.amqpUrl, { noDelay: true });
  const ch = await conn.createChannel();
  await ch.prefetch(spec.concurrency);
  await ch.consume(topologyFor(spec.namespace).requestQueue, (msg) => {
    if (!msg) return;
    ch.publish('', msg.properties.replyTo as string, msg.content, { correlationId: msg.properties.correlationId as string });
    ch.ack(msg);
  });
  return { close: () => conn.close() };
}

/** BullMQ as its authors show it: a Worker whose processor returns the result. */
async function startBullmqFair(spec: WorkerSpec): Promise<RunningWorker> {
  const worker = new BullWorker('echo', async (job) => job.data as unknown, {
    connection: bullConnection(spec.redisUrl, 'fair bench worker'),
    prefix: `${spec.namespace}:fair`,
    concurrency: spec.concurrency,
  });
  await worker.waitUntilReady();
  return { close: () => worker.close() };
}
