import { randomUUID } from 'node:crypto';
import amqp from 'amqplib';
import { Queue, QueueEvents } from 'bullmq';
import { topologyFor } from '../../../infra/amqp/topology.js';
import { bullConnection } from '../../../infra/transport/bullmq/connection.js';
import { latencyHistogram } from './stats.js';

/**
 * The producer side of the references: request/reply written with the client
 * libraries alone, as a careful person would, with an echo request body like
 * shoal's. Each call resolves on its reply.
 */
export interface ReferenceCaller {
  call(): Promise<void>;
  close(): Promise<void>;
}

const BODY = { job: 'echo', payload: 'x' };
const REPLY_TO = 'amq.rabbitmq.reply-to';

/**
 * RabbitMQ with direct reply-to. `guaranteed` adds what shoal promises on the
 * way in: publisher confirms (a nack fails the call), `mandatory` (an
 * unroutable request comes back and fails the call) and persistent messages.
 * Bare publishes fire-and-forget, as most examples do.
 */
export async function rawAmqpCaller(amqpUrl: string, namespace: string, guaranteed: boolean): Promise<ReferenceCaller> {
  const queue = topologyFor(namespace).requestQueue;
  const conn = await amqp.connect(amqpUrl, { noDelay: true });
  const ch = guaranteed ? await conn.createConfirmChannel() : await conn.createChannel();
  const waiting = new Map<string, { resolve: () => void; reject: (err: Error) => void }>();
  ch.on('return', (msg: amqp.Message) => waiting.get(msg.properties.correlationId as string)?.reject(new Error('unroutable')));
  await ch.consume(REPLY_TO, (msg) => msg && waiting.get(msg.properties.correlationId as string)?.resolve(), { noAck: true });
  const body = Buffer.from(JSON.stringify(BODY));
  return {
    async call() {
      const id = randomUUID();
      try {
        await new Promise<void>((resolve, reject) => {
          waiting.set(id, { resolve, reject });
          if (!guaranteed) {
            ch.publish('', queue, body, { correlationId: id, replyTo: REPLY_TO });
            return;
          }
          ch.publish('', queue, body, { correlationId: id, replyTo: REPLY_TO, persistent: true, mandatory: true }, (err: unknown) => {
            if (err) reject(new Error('nacked'));
          });
        });
      } finally {
        waiting.delete(id);
      }
    },
    close: () => conn.close(),
  };
}

/**
 * BullMQ as its authors recommend for request/reply: one shared QueueEvents
 * reader for every call (not a waitUntilFinished per job), completed jobs
 * removed at once and failed ones kept, as shoal does. The job id is chosen
 * before the add, so a completion cannot come before its waiter; the reader
 * starts at the stream's beginning (the queue is new), so none is missed.
 */
export async function bullmqFairCaller(redisUrl: string, namespace: string): Promise<ReferenceCaller> {
  const prefix = `${namespace}:fair`;
  const queue = new Queue('echo', { connection: bullConnection(redisUrl, 'fair bench queue'), prefix });
  const events = new QueueEvents('echo', { connection: bullConnection(redisUrl, 'fair bench events'), prefix, lastEventId: '0' });
  await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
  const waiting = new Map<string, { resolve: () => void; reject: (err: Error) => void }>();
  events.on('completed', ({ jobId }: { jobId: string }) => waiting.get(jobId)?.resolve());
  events.on('failed', ({ jobId, failedReason }: { jobId: string; failedReason: string }) => waiting.get(jobId)?.reject(new Error(failedReason)));
  const idPrefix = randomUUID();
  let sequence = 0;
  return {
    async call() {
      const id = `${idPrefix}.${++sequence}`;
      const done = new Promise<void>((resolve, reject) => waiting.set(id, { resolve, reject }));
      try {
        await queue.add('echo', BODY, { jobId: id, removeOnComplete: true, removeOnFail: { count: 10_000 } });
        await done;
      } finally {
        waiting.delete(id);
      }
    },
    async close() {
      await events.close();
      await queue.close();
    },
  };
}

export interface LoadFigures {
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
}

/** Runs `count` calls with `window` in flight, as the producer's load runner does; latency per call. */
export async function driveReference(caller: ReferenceCaller, count: number, window: number): Promise<LoadFigures> {
  const h = latencyHistogram();
  let next = 0;
  const started = performance.now();
  const lane = async () => {
    while (next < count) {
      next++;
      const t0 = performance.now();
      await caller.call();
      h.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)));
    }
  };
  await Promise.all(Array.from({ length: Math.min(window, count) }, lane));
  const seconds = (performance.now() - started) / 1000;
  return { perSecond: Math.round(count / seconds), p50Ms: h.getValueAtPercentile(50) / 1000, p99Ms: h.getValueAtPercentile(99) / 1000 };
}
