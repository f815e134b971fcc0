import { errorCode, errorMessage, TransientJobError } from '../infra/errors.js';
import type { Logger } from '../infra/log.js';
import { decodeRequest, encodeReply, type Reply, type Request } from '../infra/protocol.js';
import type { IncomingMessage, RequestResult, Settle } from '../infra/transport/types.js';
import { traceRequest, type MessagingTarget, type RequestTrace, type SpanFailure } from '../infra/tracing.js';
import { bucketIndex, emptyBuckets } from '../infra/wait-histogram.js';
import { Cancellations, EXPIRY_GRACE_MS, type JobCancelled, type RunningJob } from './cancellation.js';
import type { JobHandler, JobHandlers } from './jobs.js';

export interface RequestRunnerOptions {
  workerId: string;
  deliveryLimit: number;
  maxBodyBytes: number;
  handlers: JobHandlers;
  logger: Logger;
  /** What the request spans name as their system and queue; no spans without it (infra/tracing.ts). */
  messaging?: MessagingTarget | undefined;
}

/**
 * What a worker does with one request, whatever transport carried it: check it
 * against the protocol, run its job, and say how to settle it and what to
 * reply. Keeps the counters and the queue-wait histogram of worker reports.
 */
export class RequestRunner {
  readonly counters = { processed: 0, failed: 0, redelivered: 0, serviceMsTotal: 0 };
  readonly waitBuckets = emptyBuckets();
  /** The signals of the jobs running now: the worker cancels them (see worker/cancellation.ts). */
  readonly cancellations = new Cancellations();

  constructor(private readonly options: RequestRunnerOptions) {}

  /**
   * A synchronous job (echo, or any handler that returns a plain value) is
   * answered synchronously: no promise per request where none is needed.
   */
  run(msg: IncomingMessage, receivedAt = Date.now()): RequestResult | Promise<RequestResult> {
    const outcome = this.decide(msg, receivedAt);
    return isPromise(outcome) ? outcome.then((o) => this.result(o)) : this.result(outcome);
  }

  private result(outcome: Outcome): RequestResult {
    if (!outcome.reply) return { settle: outcome.settle };
    const result = this.encoded(outcome.settle, outcome.reply);
    if (outcome.trace) result.trace = outcome.trace;
    return result;
  }

  /**
   * Encodes the reply here, once, so that a reply which cannot be serialized
   * (a result nested too deep for JSON.stringify's recursion, a BigInt, a
   * cycle) is answered with REPLY_FAILED and dead-lettered. Left to the
   * transport, it failed at publish time, the request was redelivered up to
   * the delivery limit, and the caller never heard back.
   */
  private encoded(settle: Settle, reply: NonNullable<Outcome['reply']>): RequestResult {
    const { replyTo, correlationId } = reply;
    try {
      return { settle, reply: { replyTo, correlationId, body: reply.body, encoded: encodeReply(reply.body) } };
    } catch (err) {
      this.options.logger.warn({ correlationId, err: errorMessage(err) }, 'the reply cannot be serialized; answering REPLY_FAILED and dead-lettering the request');
      if (reply.body.ok) {
        // Counted as processed when the job returned; its caller sees a failure.
        this.counters.processed--;
        this.counters.failed++;
      }
      const body = this.failure('REPLY_FAILED', `the reply cannot be serialized: ${errorMessage(err)}`, reply.body.timings.queuedMs, reply.body.timings.serviceMs);
      return { settle: 'dead-letter', reply: { replyTo, correlationId, body, encoded: encodeReply(body) } };
    }
  }

  private decide(msg: IncomingMessage, receivedAt: number): Outcome | Promise<Outcome> {
    const { logger, maxBodyBytes, workerId } = this.options;
    // Whichever limit comes first: a BullMQ job added with fewer attempts than the worker's limit is
    // not run again after its last one, so a requeue there would fail it with no reply but "requeued".
    const deliveryLimit = Math.min(this.options.deliveryLimit, msg.deliveryLimit ?? Infinity);
    const decoded = decodeRequest(msg, maxBodyBytes);
    if (!decoded.ok) {
      // A newer protocol version may be served by an upgraded worker: give it a chance.
      if (decoded.code === 'UNSUPPORTED_VERSION' && !isLastAttempt(decoded.deliveryCount, deliveryLimit)) return { settle: 'requeue' };
      logger.warn({ code: decoded.code, reason: decoded.message }, 'rejected a bad request; dead-lettering it');
      this.counters.failed++;
      const reply = decoded.replyTo && decoded.correlationId
        ? { replyTo: decoded.replyTo, correlationId: decoded.correlationId, body: this.failure(decoded.code, decoded.message, null, 0) }
        : undefined;
      return { settle: 'dead-letter', reply };
    }

    const request = decoded.request;
    const to = { replyTo: request.replyTo, correlationId: request.correlationId };
    const queuedMs = request.sentAt === undefined ? null : Math.max(0, receivedAt - request.sentAt);
    if (queuedMs !== null) this.waitBuckets[bucketIndex(queuedMs)]!++;
    const redelivered = request.redelivered || request.deliveryCount > 0;
    if (redelivered) this.counters.redelivered++;
    // Undefined unless an OpenTelemetry SDK is registered: then it records the queue wait, and spans follow.
    const traced = this.options.messaging && traceRequest(this.options.messaging, msg.properties.headers, request, receivedAt);
    if (request.deadline !== undefined && receivedAt > request.deadline + EXPIRY_GRACE_MS) {
      // The caller has given up: running it now would be wasted (or harmful) work.
      logger.debug({ messageId: request.messageId }, 'request expired before it ran; dead-lettering it');
      return { settle: 'dead-letter' };
    }

    if (this.cancellations.cancelledBefore(request.messageId)) {
      // Its caller aborted the call while it was queued, and is gone: nobody waits for a reply.
      logger.debug({ messageId: request.messageId }, 'request cancelled before it ran; acking it');
      return { settle: 'ack' };
    }

    const handler = Object.hasOwn(this.options.handlers, request.job) ? this.options.handlers[request.job] : undefined;
    if (!handler) {
      this.counters.failed++;
      const trace = traced ? { parent: traced.replyParent, job: request.job } : undefined;
      return { settle: 'dead-letter', reply: { ...to, body: this.failure('UNKNOWN_JOB', `no handler for job "${request.job}"`, queuedMs, 0) }, trace };
    }
    if (!traced) return this.runHandler(handler, request, to, queuedMs, deliveryLimit, redelivered);
    traced.startHandling({ 'shoal.worker.id': workerId, 'shoal.delivery_count': request.deliveryCount });
    // The handler runs in the handling span's context: spans it starts are its children.
    return settledSpan(traced, request.job, traced.run(() => this.runHandler(handler, request, to, queuedMs, deliveryLimit, redelivered)));
  }

  private runHandler(handler: JobHandler, request: Request, to: ReplyAddress, queuedMs: number | null, deliveryLimit: number, redelivered: boolean): Outcome | Promise<Outcome> {
    const { workerId } = this.options;
    const running = this.cancellations.begin(request.messageId, request.deadline);
    const started = performance.now();
    const context = {
      messageId: request.messageId, workerId, deliveryCount: request.deliveryCount, redelivered: request.redelivered, deadline: request.deadline,
      get signal() {
        return running.signal; // made on first use: see RunningJob
      },
    };
    let returned: unknown;
    try {
      returned = handler(request.payload, context);
    } catch (err) {
      running.end();
      return this.failed(request, to, err, queuedMs, performance.now() - started, deliveryLimit, running);
    }
    if (!isPromise(returned)) {
      running.end();
      return this.succeeded(returned, to, queuedMs, performance.now() - started, redelivered);
    }
    return returned.then(
      (result) => {
        running.end();
        return this.succeeded(result, to, queuedMs, performance.now() - started, redelivered);
      },
      (err: unknown) => {
        running.end();
        return this.failed(request, to, err, queuedMs, performance.now() - started, deliveryLimit, running);
      },
    );
  }

  private succeeded(result: unknown, to: ReplyAddress, queuedMs: number | null, serviceMs: number, redelivered: boolean): Outcome {
    this.counters.processed++;
    this.counters.serviceMsTotal += serviceMs;
    // Microseconds are precision enough, and a short number is cheaper to write.
    const timings = { queuedMs, serviceMs: Math.round(serviceMs * 1000) / 1000 };
    const body: Reply = redelivered
      ? { ok: true, result: result ?? null, workerId: this.options.workerId, timings, redelivered }
      : { ok: true, result: result ?? null, workerId: this.options.workerId, timings };
    return { settle: 'ack', reply: { replyTo: to.replyTo, correlationId: to.correlationId, body } };
  }

  private failed(request: Request, to: ReplyAddress, err: unknown, queuedMs: number | null, serviceMs: number, deliveryLimit: number, running: RunningJob): Outcome {
    const { logger } = this.options;
    // Whatever the handler threw once its signal fired, it stopped because it was told to.
    if (running.cancelledBy) return this.cancelled(running.cancelledBy, to, queuedMs, serviceMs);
    if (err instanceof TransientJobError && !isLastAttempt(request.deliveryCount, deliveryLimit)) {
      logger.info({ messageId: request.messageId, err: err.message, deliveryCount: request.deliveryCount }, 'transient job failure; requeueing');
      return { settle: 'requeue', failure: { code: errorCode(err), message: errorMessage(err) } };
    }
    logger.warn({ messageId: request.messageId, job: request.job, err: errorMessage(err) }, 'job failed; dead-lettering it');
    this.counters.failed++;
    return { settle: 'dead-letter', reply: { ...to, body: this.failure(errorCode(err), errorMessage(err), queuedMs, serviceMs) } };
  }

  /**
   * A job that stopped on its signal is done with: acked, never redelivered or
   * dead-lettered. Its caller is told why (CANCELLED), unless it is gone: it
   * cancelled the call itself, or its deadline passed (it has timed out).
   */
  private cancelled(reason: JobCancelled, to: ReplyAddress, queuedMs: number | null, serviceMs: number): Outcome {
    this.counters.failed++;
    this.options.logger.info({ correlationId: to.correlationId, code: reason.code, reason: reason.message }, 'job stopped on its signal; acking it');
    const failure = { code: reason.code, message: reason.message };
    return reason.callerGone ? { settle: 'ack', failure } : { settle: 'ack', reply: { ...to, body: this.failure(reason.code, reason.message, queuedMs, serviceMs) }, failure };
  }

  private failure(code: string, message: string, queuedMs: number | null, serviceMs: number): Reply {
    return { ok: false, error: { code, message }, workerId: this.options.workerId, timings: { queuedMs, serviceMs } };
  }
}

interface ReplyAddress {
  replyTo: string;
  correlationId: string;
}

const isPromise = <T>(value: unknown): value is Promise<T> => typeof (value as Promise<T> | undefined)?.then === 'function';

/** What to do with a request before its reply is encoded. */
interface Outcome {
  settle: Settle;
  reply?: { replyTo: string; correlationId: string; body: Reply } | undefined;
  /** Why the job did not succeed where the reply does not say (no reply, or none yet): for its span. */
  failure?: SpanFailure | undefined;
  /** Where the reply's span nests, when traced. */
  trace?: RequestResult['trace'];
}

/** Ends the handling span with the job's outcome once it is known, and has the reply span nest under it. */
function settledSpan(traced: RequestTrace, job: string, outcome: Outcome | Promise<Outcome>): Outcome | Promise<Outcome> {
  const settle = (o: Outcome): Outcome => {
    traced.endHandling(o.failure ?? (o.reply && !o.reply.body.ok ? o.reply.body.error : undefined));
    o.trace = { parent: traced.replyParent, job };
    return o;
  };
  return isPromise<Outcome>(outcome) ? outcome.then(settle) : settle(outcome);
}

/**
 * Whether this delivery is the last one the queue allows. A quorum queue with
 * x-delivery-limit N delivers a message N+1 times: it dead-letters it when it
 * comes back with x-delivery-count = N (measured on RabbitMQ 3.10.8). BullMQ
 * jobs get `attempts` = N+1 to match.
 */
export function isLastAttempt(deliveryCount: number, deliveryLimit: number): boolean {
  return deliveryCount >= deliveryLimit;
}
