import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connect, type ShoalClient } from '../../producer/index.js';
import { defineHandlers, PermanentJobError, runWorker, type RunningWorker } from '../../worker/index.js';
import { AMQP_URL, newNamespace, REDIS_URL, removeNamespace } from '../helpers/broker.js';
import { EACH_TRANSPORT } from '../helpers/transport.js';

/** What an application writes: a handler module, typed. */
const handlers = defineHandlers({
  resize: async (payload: { url: string; width: number }) => ({ url: payload.url, width: payload.width, height: payload.width / 2 }),
  refuse: (payload: { why: string }) => {
    throw new PermanentJobError(payload.why, { code: 'REFUSED' });
  },
});

/**
 * The library API (`shoal` and `shoal/worker`) against a real broker: the
 * same calls an application makes, on each transport. Packaging is
 * test/e2e/package.test.ts.
 */
describe.each(EACH_TRANSPORT)('the library API (%s)', (transport) => {
  const url = transport === 'bullmq' ? REDIS_URL : AMQP_URL;
  let namespace = '';
  let worker: RunningWorker | undefined;
  let client: ShoalClient<typeof handlers> | undefined;

  beforeEach(() => {
    namespace = newNamespace();
  });
  afterEach(async () => {
    await client?.close();
    await worker?.close();
    await removeNamespace(namespace);
    client = undefined;
    worker = undefined;
  });

  it('calls a job of a worker run in-process, typed, and the built-in jobs too', async () => {
    worker = await runWorker({ url, namespace, handlers, workerId: 'in-app', concurrency: 2 });
    client = await connect<typeof handlers>({ url, namespace });

    const size = await client.call('resize', { url: 'a.png', width: 200 }, { timeout: '5s' });
    expect(size).toEqual({ url: 'a.png', width: 200, height: 100 });
    const reply = await client.request('resize', { url: 'b.png', width: 10 });
    expect(reply).toMatchObject({ ok: true, workerId: 'in-app' });
    // Untyped, the built-ins a pool's workers have.
    const untyped = await connect({ url, namespace });
    try {
      expect(await untyped.call('echo', { hi: 1 })).toEqual({ hi: 1 });
    } finally {
      await untyped.close();
    }
    expect(worker.stats().processed).toBe(3);
  });

  it('rejects with typed errors carrying the codes: the handler\'s, UNKNOWN_JOB, TIMEOUT, CANCELLED', async () => {
    worker = await runWorker({ url, namespace, handlers });
    client = await connect<typeof handlers>({ url, namespace });

    await expect(client.call('refuse', { why: 'no thanks' })).rejects.toMatchObject({ name: 'RemoteJobError', code: 'REFUSED', message: 'no thanks', workerId: worker.id });
    const untyped = await connect({ url, namespace, timeout: 300 });
    try {
      await expect(untyped.call('nope')).rejects.toMatchObject({ name: 'RemoteJobError', code: 'UNKNOWN_JOB' });
      await expect(untyped.call('sleep', { ms: 2000 })).rejects.toMatchObject({ name: 'TimeoutError', code: 'TIMEOUT' });
      const abort = new AbortController();
      const cancelled = untyped.call('sleep', { ms: 200 }, { timeout: '10s', signal: abort.signal });
      abort.abort();
      await expect(cancelled).rejects.toMatchObject({ name: 'CancelledError', code: 'CANCELLED' });
      await expect(untyped.call('echo', 1, { signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'CANCELLED' });
    } finally {
      await untyped.close();
    }
  });

  it('stops a worker run in-process with close(), and its closed promise says why', async () => {
    worker = await runWorker({ url, namespace, handlers });
    await worker.close();
    await expect(worker.closed).resolves.toBe('close');
  });

  it('`await using` closes the client and the worker when their block ends, worker last', async () => {
    let outer: { client: ShoalClient<typeof handlers>; worker: RunningWorker } | undefined;
    {
      await using inProcess = await runWorker({ url, namespace, handlers });
      await using caller = await connect<typeof handlers>({ url, namespace });
      expect(await caller.call('resize', { url: 'c.png', width: 4 })).toMatchObject({ width: 4 });
      outer = { client: caller, worker: inProcess };
    }
    await expect(outer.worker.closed).resolves.toBe('close');
    await expect(outer.client.call('resize', { url: 'd.png', width: 4 })).rejects.toMatchObject({ code: 'CLIENT_CLOSED' });
    // Disposal is close(): the same promise, already settled.
    await outer.client.close();
  });
});

describe('the library API: options', () => {
  it('refuses options it cannot use, with BAD_CONFIG and what to fix', async () => {
    await expect(connect({ url: 'http://localhost' })).rejects.toMatchObject({ code: 'BAD_CONFIG', message: expect.stringContaining('amqp://') });
    await expect(connect({ url: AMQP_URL, transport: 'bullmq' })).rejects.toMatchObject({ code: 'BAD_CONFIG' });
    await expect(connect({ url: AMQP_URL, namespace: 'Not Valid' })).rejects.toMatchObject({ code: 'BAD_CONFIG' });
    await expect(connect({ url: AMQP_URL, timeout: 'soon' as '1s' })).rejects.toMatchObject({ code: 'BAD_CONFIG' });
    await expect(runWorker({ url: AMQP_URL, handlers: { 'bad name': () => 1 } })).rejects.toMatchObject({ code: 'BAD_HANDLERS' });
    await expect(runWorker({ url: AMQP_URL, handlers: {}, concurrency: 0 })).rejects.toMatchObject({ code: 'BAD_CONFIG' });
  });
});
