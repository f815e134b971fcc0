import type { Logger } from '../log.js';
import type { Topology } from '../amqp/topology.js';
import { BullmqConsumer, DEFAULT_BULLMQ_WORKER, type BullmqWorkerSettings } from './bullmq/consumer.js';
import { RabbitConsumer } from './rabbitmq/consumer.js';
import { QUEUE_NAME, queuePrefix } from './bullmq/connection.js';
import type { MessagingTarget } from '../tracing.js';
import type { ConsumerCallbacks, RequestConsumer, TransportKind } from './types.js';

export type { BullmqWorkerSettings };

/** Where a component finds its transport: the broker (RabbitMQ) or Redis (BullMQ). */
export interface TransportTarget {
  transport?: TransportKind | undefined;
  amqpUrl: string;
  /** Required for bullmq. */
  redisUrl?: string | undefined;
  topology: Topology;
  deliveryLimit: number;
  logger: Logger;
}

export function redisUrlOf(target: TransportTarget): string {
  if (!target.redisUrl || target.redisUrl === 'off') throw new Error('the bullmq transport needs a Redis URL');
  return target.redisUrl;
}

/** What a worker's spans name as their messaging system and queue (infra/tracing.ts). */
export function messagingTarget(target: TransportTarget): MessagingTarget {
  return target.transport === 'bullmq'
    ? { system: 'bullmq', destination: `${queuePrefix(target.topology.namespace)}:${QUEUE_NAME}` }
    : { system: 'rabbitmq', destination: target.topology.requestQueue };
}

/** The worker's consumer for the chosen transport. (Its own module: the worker image holds no producer code.) */
export function createConsumer(
  target: TransportTarget & { workerId: string; concurrency: number; bullmq?: BullmqWorkerSettings | undefined },
  callbacks: ConsumerCallbacks,
): RequestConsumer {
  if (target.transport === 'bullmq') {
    return new BullmqConsumer({
      workerId: target.workerId,
      namespace: target.topology.namespace,
      redisUrl: redisUrlOf(target),
      concurrency: target.concurrency,
      settings: target.bullmq ?? DEFAULT_BULLMQ_WORKER,
      logger: target.logger,
    }, callbacks);
  }
  return new RabbitConsumer(target, callbacks);
}
