import type { ControlMessage, Reply } from '../protocol.js';
import type { WorkerRole } from '../worker-role.js';
import type { MessagingTarget, ReplyParent } from '../tracing.js';
import type { IncomingMessage } from './incoming-message.js';

export type { IncomingMessage };

/**
 * The transport seam: what the producer, the worker and the dispatcher need of
 * whatever carries requests, replies and control messages. Two adapters:
 * RabbitMQ (infra/transport/rabbitmq, the default) and BullMQ on Redis
 * (infra/transport/bullmq). Job handlers, the worker's request handling, the
 * worker reports and the autoscaling policy are the same on both.
 */
export const TRANSPORTS = ['rabbitmq', 'bullmq'] as const;
export type TransportKind = (typeof TRANSPORTS)[number];

/** What happened on the wire, for load summaries and the chaos tests' accounting. */
export interface DeliveryStats {
  /** Calls made. */
  calls: number;
  /** Calls whose request the broker confirmed (at least once). */
  confirmed: number;
  /** Requests published again: nacked, or their channel died before the reply. */
  republished: number;
  /** Calls that got their reply. */
  answered: number;
  /** Replies for a call that had been answered already (a redelivered request run twice): dropped. */
  duplicatesSuppressed: number;
  /** Replies that came after their call had timed out: dropped. */
  lateReplies: number;
}

/** The producer's side: one request in, its reply out. */
export interface RpcCaller {
  /**
   * Sends one request and resolves with its reply. An aborted `signal` rejects
   * the call with CANCELLED and cancels the request in the pool (worker/cancellation.ts).
   */
  call(job: string, payload: unknown, timeoutMs: number, signal?: AbortSignal): Promise<Reply>;
  readonly stats: DeliveryStats;
  readonly inFlight: number;
  /** Waits for calls in flight to settle, then disconnects. */
  close(): Promise<void>;
}

/** How a delivery ends: done, given back to be tried again, or dead-lettered (RabbitMQ) / failed (BullMQ). */
export type Settle = 'ack' | 'requeue' | 'dead-letter';

/** What the worker decided about one request: how to settle it, and the reply its caller gets, if any. */
export interface RequestResult {
  settle: Settle;
  /** `encoded` is `body` as JSON, checked to serialize: the transport sends it as is. */
  reply?: { replyTo: string; correlationId: string; body: Reply; encoded: Buffer } | undefined;
  /** Where the reply's span nests and the job it names, when an OpenTelemetry SDK is registered (infra/tracing.ts). */
  trace?: { parent: ReplyParent; job: string } | undefined;
}


/**
 * Runs one delivery (decode, run the job) and says how to settle it. The
 * transport settles it: publish the reply and ack (RabbitMQ), or complete or
 * fail the job (BullMQ). A result given synchronously is settled
 * synchronously where the transport can: no promise per request. A throw or
 * a rejection (the worker answers every failure it knows of) requeues it.
 */
export type Deliver = (message: IncomingMessage) => RequestResult | Promise<RequestResult>;

export interface ConsumerCallbacks {
  deliver: Deliver;
  /** A control message for this worker (quit, or a drain/promote addressed to it). */
  onControl: (message: ControlMessage) => void;
}

/** The worker's side: consume requests, listen for control messages. */
export interface RequestConsumer {
  /** What the worker's spans name as their messaging system and queue (infra/tracing.ts). */
  readonly messaging: MessagingTarget;
  /** Connects and starts consuming in the given role, handing each delivery and control message to `callbacks`. */
  start(role: WorkerRole, callbacks: ConsumerCallbacks): Promise<void>;
  /** A spare becomes a regular worker (RabbitMQ: a higher consumer priority; BullMQ: its full concurrency). */
  promote(): Promise<void>;
  /** Takes no new requests; what is in flight still settles. */
  stopConsuming(): Promise<void>;
  /** Waits until every result handed back has been settled (replies sent, acks made), then disconnects. */
  close(): Promise<void>;
}

/** The request queue as the transport reports it; the dispatcher's QueueSample. */
export interface QueueDepth {
  /** Waiting, not yet handed to a worker. */
  ready: number;
  /** Handed to a worker and not yet settled; undefined when the transport cannot tell. */
  unacked: number | undefined;
  consumers: number;
  /** Requests per second coming in, as the transport measures it; undefined when it does not. */
  publishRate: number | undefined;
  source: 'management' | 'passive' | 'bullmq';
}

/** The dispatcher's side: queue depth, control messages out, `quit` in. */
export interface DispatcherLink {
  /**
   * Rejects when the depth cannot be read at all. A source that fails while
   * another still answers is warned about once, by the link (infra/source-guard.ts).
   */
  queueDepth(): Promise<QueueDepth>;
  /** Resolves with whether anyone was listening. */
  send(message: ControlMessage): Promise<boolean>;
  close(): Promise<void>;
}
