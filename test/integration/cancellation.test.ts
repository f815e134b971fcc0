import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { JobContext } from '../../worker/jobs.js';
import { waitFor } from '../helpers/broker.js';
import { usePool } from '../helpers/fixture.js';
import { EACH_TRANSPORT, queuedRequests } from '../helpers/transport.js';

/**
 * The handler's AbortSignal (worker/cancellation.ts) fires when the request's
 * deadline passes or the worker's drain grace runs out. A handler that honours
 * it stops early and its request is acked: never redelivered, never
 * dead-lettered. One that ignores it runs to the end as before.
 */
describe.each(EACH_TRANSPORT)('cancelling a running job (%s)', (transport) => {
  const pool = usePool(transport);

  /** A handler that waits on its signal, and what it saw. */
  function watchful(ms: number) {
    const seen = { runs: 0, abortedAfterMs: undefined as number | undefined, reason: undefined as string | undefined };
    const handler = async (_payload: unknown, ctx: JobContext) => {
      seen.runs++;
      const started = Date.now();
      ctx.signal.addEventListener('abort', () => {
        seen.abortedAfterMs = Date.now() - started;
        seen.reason = (ctx.signal.reason as { code?: string }).code;
      });
      await sleep(ms, undefined, { signal: ctx.signal });
      return 'finished';
    };
    return { seen, handler };
  }

  it('at the deadline: the handler stops, its caller (timed out) gets no reply, and the request is acked once', async () => {
    const { seen, handler } = watchful(20_000);
    const worker = await pool.worker('w', { handlers: { watchful: handler } });
    const client = await pool.client();
    const reply = await client.call('watchful', null, 300).then(() => 'replied', (err: { code?: string }) => err.code);
    expect(reply).toBe('TIMEOUT');
    // The deadline plus the worker's clock-skew grace (1 s).
    await waitFor('the handler to stop', () => worker.stats().inFlight === 0 && seen.reason !== undefined, 10_000);
    expect(seen).toMatchObject({ runs: 1, reason: 'TIMEOUT' });
    await sleep(500);
    expect(seen.runs).toBe(1);
    expect(worker.stats()).toMatchObject({ processed: 0, failed: 1, redelivered: 0 });
    expect(client.stats.lateReplies).toBe(0);
  });

  it('when the drain grace runs out: the handler stops, its caller gets CANCELLED, and the request is not redelivered', async () => {
    const { seen, handler } = watchful(20_000);
    const worker = await pool.worker('w', { handlers: { watchful: handler }, drainGraceMs: 1500 });
    const client = await pool.client();
    const call = client.call('watchful', null, 30_000);
    await waitFor('the job to run', () => seen.runs === 1);
    await worker.close('test drain');
    const reply = await call;
    expect(reply).toMatchObject({ ok: false, error: { code: 'CANCELLED' } });
    // Cancelled a fifth of a short grace before its end (1.2 s into 1.5 s).
    expect(seen).toMatchObject({ runs: 1, reason: 'CANCELLED' });
    expect(worker.stats()).toMatchObject({ processed: 0, failed: 1, redelivered: 0 });
    const next = await pool.worker('next', { handlers: { watchful: handler } });
    await sleep(500);
    expect(seen.runs).toBe(1);
    expect(next.stats().inFlight).toBe(0);
  });

  it('when the caller aborts: the running handler stops, the call rejects with CANCELLED, and the request is acked once', async () => {
    const { seen, handler } = watchful(20_000);
    const worker = await pool.worker('w', { handlers: { watchful: handler } });
    const client = await pool.client();
    const abort = new AbortController();
    const call = client.call('watchful', null, 30_000, abort.signal).then(() => 'replied', (err: { code?: string }) => err.code);
    await waitFor('the job to run', () => seen.runs === 1);
    abort.abort();
    expect(await call).toBe('CANCELLED');
    await waitFor('the handler to stop', () => worker.stats().inFlight === 0, 10_000);
    expect(seen).toMatchObject({ runs: 1, reason: 'CANCELLED' });
    await sleep(500);
    expect(seen.runs).toBe(1);
    expect(worker.stats()).toMatchObject({ processed: 0, failed: 1, redelivered: 0 });
    expect(client.stats.lateReplies).toBe(0); // the caller is gone: no reply was sent
  });

  it('a call aborted while its request waits in the queue is never run', async () => {
    const { seen, handler } = watchful(20_000);
    const blocker = async () => {
      await sleep(1500);
      return 'done';
    };
    const worker = await pool.worker('w', { handlers: { watchful: handler, blocker }, concurrency: 1 });
    const client = await pool.client();
    const busy = client.call('blocker', null, 30_000);
    await waitFor('the worker to be busy', () => worker.stats().inFlight === 1);
    const abort = new AbortController();
    const queued = client.call('watchful', null, 30_000, abort.signal).then(() => 'replied', (err: { code?: string }) => err.code);
    await waitFor('the request to be queued', async () => client.stats.confirmed === 2 && (await queuedRequests(pool.namespace, transport)) === 1);
    await sleep(200);
    abort.abort();
    expect(await queued).toBe('CANCELLED');
    expect(await busy).toMatchObject({ ok: true, result: 'done' });
    await waitFor('the cancelled request to be taken and skipped', async () => worker.stats().inFlight === 0 && (await queuedRequests(pool.namespace, transport)) === 0, 10_000);
    await sleep(300);
    expect(seen.runs).toBe(0);
    expect(worker.stats()).toMatchObject({ processed: 1, redelivered: 0 });
  });

  it('built-in sleep and cpu honour the signal; a handler that ignores it runs to the end', async () => {
    const stubborn = async () => {
      await sleep(2500);
      return 'done anyway';
    };
    const worker = await pool.worker('w', { handlers: { stubborn }, drainGraceMs: 1000, concurrency: 3 });
    const client = await pool.client();
    const calls = [client.call('sleep', { ms: 60_000 }, 90_000), client.call('cpu', { iterations: 10_000_000 }, 90_000), client.call('stubborn', null, 90_000)];
    await waitFor('three jobs in flight', () => worker.stats().inFlight === 3);
    await worker.close('test drain');
    const [slept, hashed, ignored] = await Promise.all(calls);
    expect(slept).toMatchObject({ ok: false, error: { code: 'CANCELLED' } });
    expect(hashed).toMatchObject({ ok: false, error: { code: 'CANCELLED' } });
    expect(ignored).toMatchObject({ ok: true, result: 'done anyway' });
    expect(worker.stats()).toMatchObject({ processed: 1, failed: 2, redelivered: 0 });
  });
});
