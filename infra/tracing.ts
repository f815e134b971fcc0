import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type TextMapGetter,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';
import { errorCode, errorMessage } from './errors.js';

/**
 * Traces across the queue, with `@opentelemetry/api` alone: the spans are
 * recorded only when the application has registered an OpenTelemetry SDK
 * (a tracer provider, and a propagator for the headers), and cost next to
 * nothing when it has not (see activeTracer).
 *
 * A request's trace: the caller's span (if any)
 *   └ publish <job>        client, PRODUCER, until the broker (Redis) took it
 *       ├ queue wait <job> worker, from the request's sent-at to its delivery
 *       └ handle <job>     worker, CONSUMER, around the handler (its own spans nest here)
 *           └ reply <job>  worker, PRODUCER, the reply's publish
 *
 * The publish span's context travels in the request's headers (W3C
 * `traceparent`, `tracestate`, whatever the registered propagator writes):
 * AMQP message headers, or a BullMQ job's `data.headers`. The reply span's
 * travels in the reply's AMQP headers.
 */

/** messaging.system: `rabbitmq` is a semantic-conventions value; for BullMQ (no value of its own) `bullmq`, as its community instrumentation names it. */
export type MessagingSystem = 'rabbitmq' | 'bullmq';

/** Where requests go: the system and the queue's name. */
export interface MessagingTarget {
  system: MessagingSystem;
  destination: string;
}

/** Trace-context headers to send with a message, as the propagator wrote them. */
export type TraceHeaders = Record<string, string>;

/** A publish span (of a request or a reply) and the headers that carry its context on. */
export class PublishTrace {
  constructor(
    private span: Span | undefined,
    readonly headers: TraceHeaders,
  ) {}

  /** Ends the span, once: an error marks it failed with the error's code (spanFailure). */
  end(err?: unknown): void {
    const span = this.span;
    this.span = undefined;
    endSpan(span, err === undefined ? undefined : spanFailure(err));
  }
}

/** A failure to mark a span with: the shoal error code and its message. */
export interface SpanFailure {
  code: string;
  message: string;
}

/** Where a reply span nests: the handling span's context (or the request's, when no handler ran). */
export type ReplyParent = Context;

const TRACER_NAME = 'shoal';

/** The API's global tracer provider: a proxy whose delegate is the SDK's provider once one is registered. */
interface ProxyProvider extends TracerProvider {
  getDelegateTracer?(name: string): Tracer | undefined;
}

/**
 * The registered SDK's tracer, or undefined when there is none. A lookup in
 * the API's global registry, with no allocation when no SDK is registered
 * (the proxy has no delegate): the request path asks it once per message and
 * does nothing more. Asked each time, not cached: an SDK may be registered,
 * or disabled, after shoal's modules load.
 */
export function activeTracer(): Tracer | undefined {
  const provider = trace.getTracerProvider() as ProxyProvider;
  // Not the API's proxy (another copy of the API registered its own): trust it to be real.
  if (typeof provider.getDelegateTracer !== 'function') return provider.getTracer(TRACER_NAME);
  return provider.getDelegateTracer(TRACER_NAME);
}

/**
 * Client side: starts the publish span of one request, as a child of the
 * caller's active span, and the headers carrying it. Undefined without an SDK:
 * then no headers are added.
 */
export function startPublishSpan(target: MessagingTarget, messageId: string, job: string): PublishTrace | undefined {
  const tracer = activeTracer();
  if (!tracer) return undefined;
  const span = tracer.startSpan(`publish ${job}`, {
    kind: SpanKind.PRODUCER,
    attributes: { ...messagingAttributes(target, messageId, job), 'messaging.operation.type': 'send' },
  });
  return new PublishTrace(span, injected(trace.setSpan(context.active(), span)));
}

/**
 * Worker side: the trace of one delivered request. Continues the trace its
 * headers name (a message without them starts a new one), and records its
 * queue wait. Undefined without an SDK.
 */
export function traceRequest(
  target: MessagingTarget,
  headers: Record<string, unknown> | undefined,
  request: { correlationId: string; job: string; sentAt: number | undefined },
  receivedAt: number,
): RequestTrace | undefined {
  const tracer = activeTracer();
  if (!tracer) return undefined;
  const remote = headers ? propagation.extract(ROOT_CONTEXT, headers, headerGetter) : ROOT_CONTEXT;
  const attributes = messagingAttributes(target, request.correlationId, request.job);
  if (request.sentAt !== undefined) {
    // Clocks of caller and worker may disagree: a wait never ends before it starts.
    const wait = tracer.startSpan(`queue wait ${request.job}`, { kind: SpanKind.INTERNAL, startTime: request.sentAt, attributes }, remote);
    wait.end(Math.max(receivedAt, request.sentAt));
  }
  return new RequestTrace(tracer, remote, attributes, request.job);
}

/** The worker's spans of one request after its queue wait: handling, and the parent of its reply. */
export class RequestTrace {
  private handling: Span | undefined;
  private handlingContext: Context | undefined;

  constructor(
    private readonly tracer: Tracer,
    private readonly remote: Context,
    private readonly attributes: Attributes,
    private readonly job: string,
  ) {}

  /** Starts the handling span; `run` then runs code inside it. */
  startHandling(extra: Attributes): void {
    this.handling = this.tracer.startSpan(
      `handle ${this.job}`,
      { kind: SpanKind.CONSUMER, attributes: { ...this.attributes, ...extra, 'messaging.operation.type': 'process' } },
      this.remote,
    );
    this.handlingContext = trace.setSpan(this.remote, this.handling);
  }

  /** Runs `fn` (the handler) in the handling span's context, so spans it starts nest under it. */
  run<T>(fn: () => T): T {
    return this.handlingContext ? context.with(this.handlingContext, fn) : fn();
  }

  endHandling(failure: SpanFailure | undefined): void {
    endSpan(this.handling, failure);
  }

  /** What the reply span nests under: the handling span, or the request's own context if no handler ran. */
  get replyParent(): ReplyParent {
    return this.handlingContext ?? this.remote;
  }
}

/**
 * Worker side: starts the reply span of one request and the headers carrying
 * it. Undefined without an SDK (or without a parent, which a request gets
 * only when one was registered as it was handled).
 */
export function startReplySpan(parent: ReplyParent | undefined, target: MessagingTarget, correlationId: string, job: string, temporary: boolean): PublishTrace | undefined {
  if (!parent) return undefined;
  const tracer = activeTracer();
  if (!tracer) return undefined;
  const attributes: Attributes = { ...messagingAttributes(target, correlationId, job), 'messaging.operation.type': 'send' };
  if (temporary) attributes['messaging.destination.temporary'] = true;
  const span = tracer.startSpan(`reply ${job}`, { kind: SpanKind.PRODUCER, attributes }, parent);
  return new PublishTrace(span, injected(trace.setSpan(parent, span)));
}

/** Ends a span; a failure sets its status to error, with the shoal code as `error.type` and `shoal.error.code`. */
export function endSpan(span: Span | undefined, failure?: SpanFailure): void {
  if (!span) return;
  if (failure) {
    span.setAttributes({ 'error.type': failure.code, 'shoal.error.code': failure.code });
    span.setStatus({ code: SpanStatusCode.ERROR, message: `${failure.code}: ${failure.message}` });
  }
  span.end();
}

/** A thrown error as a span failure: shoal's errors carry their code. */
export function spanFailure(err: unknown): SpanFailure {
  return { code: errorCode(err), message: errorMessage(err) };
}

/** The attributes every span of a request carries (semantic conventions' messaging names, and the job). */
function messagingAttributes(target: MessagingTarget, correlationId: string, job: string): Attributes {
  return {
    'messaging.system': target.system,
    'messaging.destination.name': target.destination,
    'messaging.message.id': correlationId,
    'shoal.job.name': job,
  };
}

function injected(ctx: Context): TraceHeaders {
  const headers: TraceHeaders = {};
  propagation.inject(ctx, headers);
  return headers;
}

/** Reads trace headers as text: amqplib gives AMQP long strings as strings, byte arrays as Buffers. */
const headerGetter: TextMapGetter<Record<string, unknown>> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => {
    const value = carrier[key];
    if (typeof value === 'string') return value;
    return Buffer.isBuffer(value) ? value.toString('utf8') : undefined;
  },
};
