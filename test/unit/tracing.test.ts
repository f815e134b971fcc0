import type { Job } from 'bullmq';
import { context, propagation, ROOT_CONTEXT, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { activeTracer, startPublishSpan, startReplySpan, traceRequest, type MessagingTarget } from '../../infra/tracing.js';
import { PublishError } from '../../infra/errors.js';
import { HEADER_SENT_AT } from '../../infra/protocol.js';
import type { IncomingMessage } from '../../infra/transport/types.js';
import { jobToMessage, type RequestJobData } from '../../infra/transport/bullmq/job-message.js';
import { RequestRunner } from '../../worker/request-runner.js';

const target: MessagingTarget = { system: 'rabbitmq', destination: 'test.requests' };
const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

const request = (headers: Record<string, unknown> = {}): IncomingMessage => ({
  content: Buffer.from(JSON.stringify({ job: 'echo', payload: 1 })),
  fields: { redelivered: false },
  properties: { correlationId: 'c-1', messageId: 'c-1', replyTo: 'amq.rabbitmq.reply-to.x', headers: { [HEADER_SENT_AT]: Date.now(), ...headers } },
});

function runner() {
  return new RequestRunner({ workerId: 'w', deliveryLimit: 5, maxBodyBytes: 1 << 20, handlers: { echo: (payload) => payload }, logger: pino({ level: 'silent' }), messaging: target });
}

afterEach(() => {
  trace.disable();
  context.disable();
  propagation.disable();
});

describe('tracing without an OpenTelemetry SDK', () => {
  it('has no tracer, and the helpers make no spans and add no headers', () => {
    expect(activeTracer()).toBeUndefined();
    expect(startPublishSpan(target, 'c-1', 'echo')).toBeUndefined();
    expect(traceRequest(target, { traceparent: TRACEPARENT }, { correlationId: 'c-1', job: 'echo', sentAt: 1 }, 2)).toBeUndefined();
    expect(startReplySpan(ROOT_CONTEXT, target, 'c-1', 'echo', true)).toBeUndefined();
  });

  it('adds none either with a propagator and a context manager but no tracer provider', () => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    expect(activeTracer()).toBeUndefined();
    expect(startPublishSpan(target, 'c-1', 'echo')).toBeUndefined();
  });

  it('gives the worker\'s reply no trace, even for a request that carries a traceparent', () => {
    const result = runner().run(request({ traceparent: TRACEPARENT }));
    expect(result).toMatchObject({ settle: 'ack', reply: { body: { ok: true, result: 1 } } });
    expect(result).not.toHaveProperty('trace');
  });
});

describe('tracing with an SDK registered', () => {
  function register() {
    const exporter = new InMemorySpanExporter();
    trace.setGlobalTracerProvider(new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] }));
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    return exporter;
  }

  it('is looked up at each use: registered after load, it traces; disabled, it stops', () => {
    register();
    const published = startPublishSpan(target, 'c-1', 'echo');
    expect(published?.headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    published?.end();
    trace.disable();
    expect(startPublishSpan(target, 'c-2', 'echo')).toBeUndefined();
  });

  it('continues the trace a request names, and gives its reply a parent in it', () => {
    const exporter = register();
    const result = runner().run(request({ traceparent: TRACEPARENT }));
    const parent = !(result instanceof Promise) ? result.trace?.parent : undefined;
    expect(trace.getSpanContext(parent ?? ROOT_CONTEXT)?.traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(exporter.getFinishedSpans().map((span) => [span.name, span.parentSpanContext?.spanId])).toEqual([
      ['queue wait echo', 'b7ad6b7169203331'],
      ['handle echo', 'b7ad6b7169203331'],
    ]);
  });

  it('ends a publish span once, marked with the code of the error it ended with', () => {
    const exporter = register();
    const published = startPublishSpan(target, 'c-1', 'echo');
    published?.end(new PublishError('nobody took it', { code: 'UNROUTABLE' }));
    published?.end();
    expect(exporter.getFinishedSpans()).toHaveLength(1);
    expect(exporter.getFinishedSpans()[0]).toMatchObject({ status: { code: SpanStatusCode.ERROR, message: 'UNROUTABLE: nobody took it' }, attributes: { 'shoal.error.code': 'UNROUTABLE' } });
  });
});

describe("a BullMQ job's trace headers", () => {
  const job = (headers: unknown) =>
    ({ id: 'c-1', attemptsMade: 0, stalledCounter: 0, data: { body: '{"job":"echo","payload":1}', messageId: 'c-1', version: 1, sentAt: 1000, deadline: 2000, headers } }) as Job<RequestJobData>;

  it('reach the message headers as an AMQP request carries them, without overriding shoal\'s own', () => {
    const headers = jobToMessage(job({ traceparent: TRACEPARENT, tracestate: 'a=1', 'shoal-sent-at': 'forged', n: 5 })).properties.headers;
    expect(headers).toMatchObject({ traceparent: TRACEPARENT, tracestate: 'a=1', 'shoal-sent-at': 1000 });
    expect(headers).not.toHaveProperty('n');
  });

  it('are optional: a job without them has shoal\'s headers alone', () => {
    expect(Object.keys(jobToMessage(job(undefined)).properties.headers ?? {}).sort()).toEqual(['shoal-deadline', 'shoal-protocol', 'shoal-sent-at', 'x-delivery-count']);
  });
});
