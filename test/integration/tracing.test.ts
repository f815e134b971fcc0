import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PermanentJobError } from '../../infra/errors.js';
import { encodeRequestBody, HEADER_SENT_AT, PROTOCOL_VERSION } from '../../infra/protocol.js';
import { REPLY_TO_DIRECT, topologyFor } from '../../infra/amqp/topology.js';
import { QUEUE_NAME, queueOptions } from '../../infra/transport/bullmq/connection.js';
import type { RequestJobData } from '../../infra/transport/bullmq/job-message.js';
import type { TransportKind } from '../../infra/transport/types.js';
import { rawChannel, REDIS_URL, waitFor } from '../helpers/broker.js';
import { usePool } from '../helpers/fixture.js';
import { EACH_TRANSPORT } from '../helpers/transport.js';

/**
 * Traces across the queue (infra/tracing.ts) with the OpenTelemetry SDK's
 * in-memory exporter, the AsyncLocalStorage context manager and the W3C
 * propagator registered, as an application would: one trace per request, the
 * publish span under the caller's span, the queue wait and handling spans
 * under the publish span, the reply span and the handler's own spans under the
 * handling span.
 */
const exporter = new InMemorySpanExporter();
const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
const tracer = trace.getTracer('tracing-test');

beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
});

afterAll(async () => {
  await provider.shutdown();
  trace.disable();
  context.disable();
  propagation.disable();
});

beforeEach(() => exporter.reset());

const SYSTEM: Record<TransportKind, string> = { rabbitmq: 'rabbitmq', bullmq: 'bullmq' };

/** The finished spans once those named have all ended (a BullMQ reply span ends after the caller may have its reply). */
async function spansNamed(...names: string[]): Promise<Map<string, ReadableSpan>> {
  return waitFor(`spans ${names.join(', ')}`, () => {
    const byName = new Map(exporter.getFinishedSpans().map((span) => [span.name, span]));
    return names.every((name) => byName.has(name)) && byName;
  }, 10_000);
}

/** The trace as an indented tree with each span's kind, duration and attributes, for the record (printed by the first test). */
function traceAsText(spans: ReadableSpan[]): string {
  const lines: string[] = [];
  const kinds = ['INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'];
  const print = (parent: string | undefined, depth: number) => {
    for (const span of spans.filter((s) => parentOf(s) === parent).sort((a, b) => a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1])) {
      const ms = span.duration[0] * 1000 + span.duration[1] / 1e6;
      const attributes = Object.entries(span.attributes).map(([k, v]) => `${k}=${String(v)}`).join(' ');
      lines.push(`${'  '.repeat(depth)}${span.name} [${kinds[span.kind]}] ${ms.toFixed(2)} ms  span ${idOf(span)}  ${attributes}`);
      print(idOf(span), depth + 1);
    }
  };
  print(undefined, 0);
  return `trace ${traceOf(spans[0])}\n${lines.join('\n')}`;
}

const idOf = (span: ReadableSpan | undefined) => span?.spanContext().spanId;
const parentOf = (span: ReadableSpan | undefined) => span?.parentSpanContext?.spanId;
const traceOf = (span: ReadableSpan | undefined) => span?.spanContext().traceId;

describe.each(EACH_TRANSPORT)('traces across the queue (%s)', (transport) => {
  const pool = usePool(transport);

  it('a call in a parent span: publish, queue wait, handling and reply spans in its trace, each under the right parent', async () => {
    await pool.worker('w');
    const client = await pool.client();
    const reply = await tracer.startActiveSpan('caller', async (span) => {
      try {
        return await client.call('echo', 'hi', 10_000);
      } finally {
        span.end();
      }
    });
    expect(reply).toMatchObject({ ok: true, result: 'hi' });
    const spans = await spansNamed('caller', 'publish echo', 'queue wait echo', 'handle echo', 'reply echo');
    const [caller, publish, wait, handle, replied] = ['caller', 'publish echo', 'queue wait echo', 'handle echo', 'reply echo'].map((name) => spans.get(name));
    console.log(`${transport}: ${traceAsText([...spans.values()])}`);
    expect(new Set([caller, publish, wait, handle, replied].map(traceOf)).size).toBe(1);
    expect(parentOf(publish)).toBe(idOf(caller));
    expect(parentOf(wait)).toBe(idOf(publish));
    expect(parentOf(handle)).toBe(idOf(publish));
    expect(parentOf(replied)).toBe(idOf(handle));
    expect([publish, wait, handle, replied].map((span) => span?.kind)).toEqual([SpanKind.PRODUCER, SpanKind.INTERNAL, SpanKind.CONSUMER, SpanKind.PRODUCER]);
    const messageId = publish?.attributes['messaging.message.id'];
    expect(messageId).toEqual(expect.any(String));
    for (const span of [publish, wait, handle, replied]) {
      expect(span?.attributes).toMatchObject({ 'messaging.system': SYSTEM[transport], 'messaging.message.id': messageId, 'shoal.job.name': 'echo' });
      expect(span?.status.code).not.toBe(SpanStatusCode.ERROR);
    }
    expect(handle?.attributes).toMatchObject({ 'messaging.destination.name': publish?.attributes['messaging.destination.name'], 'shoal.worker.id': 'w' });
    // One trace per request: a second call, outside any span, is a trace of its own.
    exporter.reset();
    await client.call('echo', 'again', 10_000);
    const second = await spansNamed('publish echo', 'handle echo', 'reply echo');
    expect(traceOf(second.get('publish echo'))).not.toBe(traceOf(caller));
    expect(parentOf(second.get('publish echo'))).toBeUndefined();
    expect(traceOf(second.get('reply echo'))).toBe(traceOf(second.get('publish echo')));
  });

  it("a span the handler starts is a child of the handling span, across the handler's awaits", async () => {
    await pool.worker('w', {
      handlers: {
        nested: async () => {
          await sleep(5);
          return tracer.startActiveSpan('inside the handler', async (span) => {
            await sleep(5);
            span.end();
            return 'nested';
          });
        },
      },
    });
    const client = await pool.client();
    expect(await client.call('nested', null, 10_000)).toMatchObject({ ok: true, result: 'nested' });
    const spans = await spansNamed('handle nested', 'inside the handler', 'reply nested');
    expect(parentOf(spans.get('inside the handler'))).toBe(idOf(spans.get('handle nested')));
    expect(traceOf(spans.get('inside the handler'))).toBe(traceOf(spans.get('publish nested')));
  });

  it('a failing handler marks the handling span as an error with its code', async () => {
    await pool.worker('w', {
      handlers: {
        resize: () => {
          throw new PermanentJobError('width must be positive', { code: 'BAD_WIDTH' });
        },
      },
    });
    const client = await pool.client();
    expect(await client.call('resize', { width: 0 }, 10_000)).toMatchObject({ ok: false, error: { code: 'BAD_WIDTH' } });
    const spans = await spansNamed('handle resize', 'reply resize');
    const handle = spans.get('handle resize');
    expect(handle?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'BAD_WIDTH: width must be positive' });
    expect(handle?.attributes).toMatchObject({ 'shoal.error.code': 'BAD_WIDTH', 'error.type': 'BAD_WIDTH' });
    // The reply went out fine: its span is no error.
    expect(spans.get('reply resize')?.status.code).not.toBe(SpanStatusCode.ERROR);
    expect(parentOf(spans.get('reply resize'))).toBe(idOf(handle));
  });

  it('a request from a foreign client with a traceparent header continues that trace', async () => {
    await pool.worker('w');
    const traceId = randomUUID().replaceAll('-', '');
    const parentSpanId = randomUUID().replaceAll('-', '').slice(0, 16);
    const traceparent = `00-${traceId}-${parentSpanId}-01`;
    const replyTraceparent = await sendForeign(transport, pool.namespace, traceparent);
    const spans = await spansNamed('queue wait echo', 'handle echo', 'reply echo');
    for (const name of ['queue wait echo', 'handle echo', 'reply echo']) expect(traceOf(spans.get(name))).toBe(traceId);
    expect(parentOf(spans.get('handle echo'))).toBe(parentSpanId);
    expect(parentOf(spans.get('queue wait echo'))).toBe(parentSpanId);
    if (transport === 'rabbitmq') {
      // The reply carries the reply span's context on: the same trace, the reply span as parent.
      expect(replyTraceparent).toBe(`00-${traceId}-${idOf(spans.get('reply echo'))}-01`);
    }
  });
});

/**
 * Sends an echo request as a client in another language would, with a given
 * traceparent, and waits for its reply. RabbitMQ: published raw with amqplib,
 * the reply read from direct reply-to, and its traceparent header returned.
 * BullMQ: a job added raw, with the trace context in `data.headers`.
 */
async function sendForeign(transport: TransportKind, namespace: string, traceparent: string): Promise<string | undefined> {
  const correlationId = `foreign-${randomUUID()}`;
  const body = encodeRequestBody('echo', 'from afar');
  if (transport === 'rabbitmq') {
    const { connection, channel } = await rawChannel();
    try {
      const reply = new Promise<{ traceparent: unknown; body: string }>((resolve) => {
        void channel.consume(REPLY_TO_DIRECT, (msg) => msg && resolve({ traceparent: msg.properties.headers?.traceparent, body: msg.content.toString() }), { noAck: true });
      });
      await new Promise<void>((resolve, reject) =>
        channel.sendToQueue(topologyFor(namespace).requestQueue, body, { correlationId, messageId: correlationId, replyTo: REPLY_TO_DIRECT, expiration: '10000', headers: { traceparent, [HEADER_SENT_AT]: Date.now() } }, (err: unknown) =>
          err ? reject(err as Error) : resolve(),
        ),
      );
      const answered = await reply;
      expect(JSON.parse(answered.body)).toMatchObject({ ok: true, result: 'from afar' });
      return String(answered.traceparent);
    } finally {
      await connection.close();
    }
  }
  const queue = new Queue<RequestJobData>(QUEUE_NAME, queueOptions(REDIS_URL, namespace, 'foreign client'));
  try {
    const sentAt = Date.now();
    await queue.add('echo', { body: body.toString('utf8'), messageId: correlationId, version: PROTOCOL_VERSION, sentAt, deadline: sentAt + 10_000, headers: { traceparent } }, { jobId: correlationId, removeOnComplete: true });
    await waitFor('the foreign job to complete', async () => (await queue.getJobState(correlationId)) !== 'waiting' && (await queue.getJobState(correlationId)) !== 'active', 10_000);
    return undefined;
  } finally {
    await queue.close();
  }
}
