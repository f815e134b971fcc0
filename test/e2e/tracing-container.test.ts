import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LABEL_POOL } from '../../infra/runtime/docker.js';
import type { RpcCaller } from '../../infra/transport/types.js';
import { AMQP_URL, connectClient, newNamespace, REDIS_URL, removeNamespace, waitFor } from '../helpers/broker.js';
import { WORKER_IMAGE } from '../helpers/docker.js';
import { EACH_TRANSPORT, poolConsumers } from '../helpers/transport.js';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../..', import.meta.url));
/** The worker image with an OpenTelemetry SDK preloaded (built here, removed after). */
const TRACED_IMAGE = `${WORKER_IMAGE}-traced`;
/** What the container's exporter prints before each span's JSON, on stderr. */
const MARK = 'SHOAL_TEST_SPAN ';

/**
 * The SDK an application would register in its worker containers, preloaded
 * with `node --import`: the same context manager and W3C propagator as the
 * caller's, and an exporter that prints each span as a JSON line, which the
 * test reads with `docker logs`.
 */
const REGISTER = `
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
const exporter = {
  export(spans, done) {
    for (const s of spans) {
      const { traceId, spanId } = s.spanContext();
      process.stderr.write('${MARK}' + JSON.stringify({ name: s.name, kind: s.kind, traceId, spanId, parentSpanId: s.parentSpanContext?.spanId, attributes: s.attributes }) + '\\n');
    }
    done({ code: 0 });
  },
  shutdown: async () => {},
};
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
propagation.setGlobalPropagator(new W3CTraceContextPropagator());
trace.setGlobalTracerProvider(new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] }));
`;

interface ContainerSpan {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  attributes: Record<string, unknown>;
}

/**
 * One trace per request across the producer (this process, with an SDK) and a
 * worker container (the worker image, with an SDK preloaded): the caller's span,
 * its publish span here; the queue wait, handling and reply spans there, each
 * under the right parent.
 */
describe('traces across the producer and a worker container', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  let buildDir = '';

  beforeAll(async () => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    trace.setGlobalTracerProvider(provider);
    // The SDK's packages (pure JS) beside a preload module; @opentelemetry/api is the image's own.
    buildDir = await mkdtemp(path.join(tmpdir(), 'shoal-traced-image-'));
    const packages = path.join(buildDir, 'otel/node_modules/@opentelemetry');
    await mkdir(packages, { recursive: true });
    for (const name of ['sdk-trace', 'core', 'resources', 'semantic-conventions', 'context-async-hooks']) {
      await cp(path.join(REPO, 'node_modules/@opentelemetry', name), path.join(packages, name), { recursive: true, dereference: true });
    }
    await writeFile(path.join(buildDir, 'otel/register.mjs'), REGISTER);
    await writeFile(path.join(buildDir, 'Dockerfile'), `FROM ${WORKER_IMAGE}\nCOPY otel /app/otel\nENV NODE_OPTIONS=--import=/app/otel/register.mjs\n`);
    await run('docker', ['build', '-q', '-t', TRACED_IMAGE, buildDir], { env: { ...process.env, DOCKER_BUILDKIT: process.env.DOCKER_BUILDKIT ?? '0' } });
  }, 180_000);

  afterAll(async () => {
    await provider.shutdown();
    trace.disable();
    context.disable();
    propagation.disable();
    await run('docker', ['rmi', TRACED_IMAGE]).catch(() => undefined);
    if (buildDir) await rm(buildDir, { recursive: true, force: true });
  });

  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await cleanup?.();
    cleanup = undefined;
  });

  it.each(EACH_TRANSPORT)('%s: the publish span here, the queue wait, handling and reply spans in the container, in one trace', async (transport) => {
    const namespace = newNamespace();
    const containerName = `shoal-traced-${namespace}`;
    let client: RpcCaller | undefined;
    cleanup = async () => {
      await client?.close();
      await run('docker', ['rm', '-f', containerName]).catch(() => undefined);
      await removeNamespace(namespace);
    };
    await run('docker', [
      'run', '-d', '--name', containerName, '--network', 'host', '--label', `${LABEL_POOL}=${namespace}`,
      '-e', `SHOAL_AMQP_URL=${AMQP_URL}`, '-e', `SHOAL_REDIS_URL=${REDIS_URL}`, '-e', `SHOAL_NAMESPACE=${namespace}`,
      '-e', `SHOAL_TRANSPORT=${transport}`, '-e', 'SHOAL_WORKER_ID=traced-worker', TRACED_IMAGE,
    ]);
    await waitFor('the container to consume', async () => (await poolConsumers(namespace, transport)) >= 1, 30_000);
    client = await connectClient(namespace, 5, transport);
    const caller = client;
    const reply = await trace.getTracer('test').startActiveSpan('caller', async (span) => {
      try {
        return await caller.call('echo', 'to the container', 10_000);
      } finally {
        span.end();
      }
    });
    expect(reply).toMatchObject({ ok: true, result: 'to the container', workerId: 'traced-worker' });

    const here = new Map(exporter.getFinishedSpans().map((span) => [span.name, span]));
    const callerSpan = here.get('caller')!;
    const publish = here.get('publish echo')!;
    expect(publish.parentSpanContext?.spanId).toBe(callerSpan.spanContext().spanId);
    const traceId = callerSpan.spanContext().traceId;

    const there = await waitFor('the container\'s spans', async () => {
      const { stderr } = await run('docker', ['logs', containerName]);
      const spans = stderr.split('\n').filter((line) => line.startsWith(MARK)).map((line) => JSON.parse(line.slice(MARK.length)) as ContainerSpan);
      const byName = new Map(spans.filter((span) => span.traceId === traceId).map((span) => [span.name, span]));
      return ['queue wait echo', 'handle echo', 'reply echo'].every((name) => byName.has(name)) && byName;
    }, 15_000);
    const publishId = publish.spanContext().spanId;
    expect(there.get('queue wait echo')?.parentSpanId).toBe(publishId);
    expect(there.get('handle echo')?.parentSpanId).toBe(publishId);
    expect(there.get('reply echo')?.parentSpanId).toBe(there.get('handle echo')?.spanId);
    expect(there.get('handle echo')?.attributes).toMatchObject({ 'messaging.system': transport, 'shoal.worker.id': 'traced-worker', 'messaging.message.id': publish.attributes['messaging.message.id'] });
    exporter.reset();
  });
});
