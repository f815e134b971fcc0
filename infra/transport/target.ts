import type { Topology } from '../amqp/topology.js';
import type { Logger } from '../log.js';
import type { ControlMessage } from '../protocol.js';
import type { DispatcherLink, RequestConsumer, RpcCaller, TransportKind } from './types.js';

/** Where a component finds its transport: the broker (RabbitMQ) or Redis (BullMQ). */
export interface TransportTarget {
  /** Default rabbitmq. */
  transport?: TransportKind | undefined;
  amqpUrl: string;
  /** Required for bullmq. */
  redisUrl?: string | undefined;
  topology: Topology;
  deliveryLimit: number;
  logger: Logger;
}

/** BullMQ's stalled-job settings: how fast the job of a dead worker goes back to the queue. */
export interface BullmqWorkerSettings {
  /** A job's lock lives this long unless its worker renews it (every half of it). */
  lockDurationMs: number;
  /** How often workers look for jobs whose lock has expired. */
  stalledIntervalMs: number;
  /** A job that stalls more often than this is failed instead of run again. */
  maxStalledCount: number;
}

/** The producer's caller. */
export interface CallerTarget extends TransportTarget {
  maxBodyBytes: number;
  /** Its connection's name (in the management UI, or Redis' CLIENT LIST). */
  name: string;
  /** RabbitMQ: retries of the first connection before giving up (default 10). */
  initialMaxRetries?: number;
  /** Benchmarks only (see TopologyOptions); quorum by default. RabbitMQ only. */
  queueType?: 'quorum' | 'classic';
}

/** A worker's consumer. */
export interface ConsumerTarget extends TransportTarget {
  workerId: string;
  /** Jobs run at once (RabbitMQ: also the prefetch, so the broker never hands over more). */
  concurrency: number;
  /** Benchmarks only (see TopologyOptions); quorum by default. RabbitMQ only. */
  queueType?: 'quorum' | 'classic' | undefined;
  /** BullMQ only; its defaults when undefined. */
  bullmq?: BullmqWorkerSettings | undefined;
}

/** The dispatcher's link. */
export interface LinkTarget extends TransportTarget {
  /** Called when a `quit` control message comes. */
  onQuit: () => void;
  /** RabbitMQ only: the management API, for unacked and the publish rate; undefined for the passive declare alone. */
  managementUrl?: string | undefined;
}

/**
 * What each adapter folder (infra/transport/rabbitmq, infra/transport/bullmq)
 * exports, in its index.ts: one constructor per port, and the end-client's
 * one-off control message. infra/transport/factory.ts picks one by kind.
 */
export interface TransportAdapter {
  connectCaller(target: CallerTarget): Promise<RpcCaller>;
  /** Resolves with whether anyone was listening. */
  sendControl(target: TransportTarget, message: ControlMessage): Promise<{ routed: boolean }>;
  /** Not started: RequestConsumer.start connects. */
  createConsumer(target: ConsumerTarget): RequestConsumer;
  connectDispatcherLink(target: LinkTarget): Promise<DispatcherLink>;
}

/** BullMQ keeps its queue in Redis: the target must name it. */
export function redisUrlOf(target: TransportTarget): string {
  if (!target.redisUrl || target.redisUrl === 'off') throw new Error('the bullmq transport needs a Redis URL');
  return target.redisUrl;
}
