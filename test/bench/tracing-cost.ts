/**
 * Benchmark: what traces cost the request path (infra/tracing.ts) when no
 * OpenTelemetry SDK is registered, and when one is. In process, no broker:
 * - the per-message check (activeTracer) and the client's startPublishSpan;
 * - the worker's RequestRunner on an echo request, with its messaging target
 *   (traced when an SDK is registered) against none (never traced: the code
 *   path from before traces);
 * - heap growth per call of the client's and the worker's helpers, with
 *   the GC run before and after.
 * Medians of 7 rounds. Not a test: prints figures, asserts nothing; writes them
 * to results/tracing-cost.json.
 * Run: npm run bench -- tracing-cost (or: npx tsx test/bench/tracing-cost.ts)
 */
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { SimpleSpanProcessor, TracerProvider, type SpanExporter } from '@opentelemetry/sdk-trace';
import { writeFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { pino } from 'pino';
import { HEADER_SENT_AT } from '../../infra/protocol.js';
import type { IncomingMessage } from '../../infra/transport/types.js';
import { activeTracer, startPublishSpan, type MessagingTarget } from '../../infra/tracing.js';
import { RequestRunner } from '../../worker/request-runner.js';

const ROUNDS = 7;
const target: MessagingTarget = { system: 'rabbitmq', destination: 'bench.requests' };
const message: IncomingMessage = {
  content: Buffer.from(JSON.stringify({ job: 'echo', payload: 'x' })),
  fields: { redelivered: false },
  properties: { correlationId: 'c-1', messageId: 'c-1', replyTo: 'amq.rabbitmq.reply-to.x', headers: { [HEADER_SENT_AT]: Date.now() } },
};
const options = { workerId: 'w', deliveryLimit: 5, maxBodyBytes: 1 << 20, handlers: { echo: (p: unknown) => p }, logger: pino({ level: 'silent' }) };
const untraced = new RequestRunner(options);
const traced = new RequestRunner({ ...options, messaging: target });

/** Nanoseconds per call of each function: the median of ROUNDS rounds of n calls, the functions taking turns in each round. */
function nsPerCall(n: number, ...fns: (() => unknown)[]): number[] {
  const rounds: number[][] = fns.map(() => []);
  for (let r = 0; r < ROUNDS; r++) {
    fns.forEach((fn, f) => {
      const start = process.hrtime.bigint();
      for (let i = 0; i < n; i++) fn();
      rounds[f]!.push(Number(process.hrtime.bigint() - start) / n);
    });
  }
  return rounds.map((times) => times.sort((a, b) => a - b)[ROUNDS >> 1]!);
}

// The GC on demand, without a --expose-gc flag on the command line.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Heap bytes per call left after n calls (GC before and after). */
function heapPerCall(n: number, fn: () => unknown): number {
  const keep: unknown[] = new Array(n);
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < n; i++) keep[i] = fn(); // kept, so what a call allocates for its result stays counted
  gc();
  const after = process.memoryUsage().heapUsed;
  keep.length = 0;
  return (after - before) / n;
}

const results: Record<string, Record<string, number>> = {};

function report(label: string) {
  const [check] = nsPerCall(1_000_000, activeTracer);
  const [publish] = nsPerCall(50_000, () => startPublishSpan(target, 'c-1', 'echo')?.end());
  const [runUntraced, runTraced] = nsPerCall(50_000, () => untraced.run(message), () => traced.run(message)) as [number, number];
  const publishHeap = heapPerCall(20_000, () => startPublishSpan(target, 'c-1', 'echo'));
  console.log(`${label}`);
  console.log(`  activeTracer()                          ${check!.toFixed(1)} ns/call`);
  console.log(`  startPublishSpan() (+ end)              ${publish!.toFixed(1)} ns/call; heap kept ${publishHeap.toFixed(1)} B/call`);
  console.log(`  RequestRunner.run(echo), no target      ${runUntraced.toFixed(0)} ns/call (the path before traces)`);
  console.log(`  RequestRunner.run(echo), with target    ${runTraced.toFixed(0)} ns/call (${(runTraced / runUntraced).toFixed(3)}x)`);
  results[label] = { activeTracerNs: check!, startPublishSpanNs: publish!, publishHeapBytesPerCall: publishHeap, runUntracedNs: runUntraced, runTracedNs: runTraced };
}

// Warm up both paths, then measure without an SDK, then with one.
nsPerCall(100_000, () => traced.run(message));
nsPerCall(100_000, () => untraced.run(message));
report('no OpenTelemetry SDK registered');

context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
propagation.setGlobalPropagator(new W3CTraceContextPropagator());
// Spans are exported to nowhere: an in-memory exporter would keep millions of them.
const exporter: SpanExporter = { export: (_spans, done) => done({ code: 0 }), shutdown: async () => undefined };
trace.setGlobalTracerProvider(new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] }));
report('SDK registered (simple processor, an exporter that drops the spans)');
trace.disable();
context.disable();
propagation.disable();
writeFileSync(new URL('./results/tracing-cost.json', import.meta.url), `${JSON.stringify({ benchmark: 'tracing cost', rounds: ROUNDS, results }, null, 2)}\n`);
