import type { Job } from 'bullmq';
import {
  HEADER_DEADLINE,
  HEADER_DELIVERY_COUNT,
  HEADER_SENT_AT,
  HEADER_VERSION,
  replyOf,
  type Reply,
} from '../../protocol.js';
import type { IncomingMessage } from '../types.js';

/**
 * A request as a BullMQ job: its data carries the same body and metadata as
 * an AMQP message's body, properties and headers, so the worker checks both
 * with the same decodeRequest. The job id is the correlation id.
 */
export interface RequestJobData {
  /** The request body, JSON text: {"job": ..., "payload": ...}. */
  body: string;
  messageId: string;
  version: number;
  sentAt: number;
  deadline: number;
  /**
   * Optional: trace-context headers (W3C `traceparent`, `tracestate`), as an
   * AMQP request carries them in its message headers (infra/tracing.ts).
   */
  headers?: Record<string, string>;
}

/** Stands for "reply by completing the job" where AMQP has a reply-to address. */
export const REPLY_VIA_JOB = 'bullmq:job';

export function jobToMessage(job: Job<RequestJobData>): IncomingMessage {
  const data = job.data;
  // Deliveries before this one: failed attempts (retried) plus times it stalled (its worker died).
  const stalled = job.stalledCounter ?? 0;
  const deliveryCount = job.attemptsMade + stalled;
  return {
    content: Buffer.from(typeof data?.body === 'string' ? data.body : JSON.stringify(data?.body ?? null)),
    fields: { redelivered: deliveryCount > 0 },
    // BullMQ runs a job again only while attemptsMade + 1 < attempts (default 1); stalls do not use up attempts.
    deliveryLimit: Math.max(0, (job.opts?.attempts ?? 1) - 1) + stalled,
    properties: {
      messageId: data?.messageId,
      correlationId: job.id,
      replyTo: REPLY_VIA_JOB,
      headers: withExtraHeaders(data?.headers, {
        [HEADER_VERSION]: data?.version,
        [HEADER_SENT_AT]: data?.sentAt,
        [HEADER_DEADLINE]: data?.deadline,
        [HEADER_DELIVERY_COUNT]: deliveryCount,
      }),
    },
  };
}

/** Adds a job's own text headers (trace context) to shoal's, which they cannot override. */
function withExtraHeaders(extra: unknown, headers: Record<string, unknown>): Record<string, unknown> {
  if (typeof extra !== 'object' || extra === null) return headers;
  for (const [key, value] of Object.entries(extra)) {
    if (typeof value === 'string' && !(key in headers)) headers[key] = value;
  }
  return headers;
}

/**
 * A failed job's reason as a reply. shoal's workers fail a job with the JSON of
 * their error reply; BullMQ itself fails one with plain text (e.g. a job that
 * stalled more often than maxStalledCount), which becomes a JOB_STALLED or
 * JOB_FAILED reply.
 */
export function replyFromFailure(failedReason: string): Reply {
  try {
    const reply = replyOf(JSON.parse(failedReason));
    if (reply) return reply;
  } catch {
    // not one of ours
  }
  const code = /stalled/i.test(failedReason) ? 'JOB_STALLED' : 'JOB_FAILED';
  return { ok: false, error: { code, message: failedReason }, workerId: 'bullmq', timings: { queuedMs: null, serviceMs: 0 } };
}
