import { describe, expect, it } from 'vitest';
import { runLoad } from '../../producer/load.js';
import type { JobContext } from '../../worker/jobs.js';
import { waitFor } from '../helpers/broker.js';
import { usePool } from '../helpers/fixture.js';
import { EACH_TRANSPORT } from '../helpers/transport.js';

describe.each(EACH_TRANSPORT)('request/reply through a pool of workers (%s)', (transport) => {
  const pool = usePool(transport);

  it('answers 1000 requests through 3 workers, each exactly once, with every worker taking part', async () => {
    const handledBy = new Map<string, string[]>();
    const record = (payload: unknown, ctx: JobContext) => {
      handledBy.set(ctx.messageId, [...(handledBy.get(ctx.messageId) ?? []), ctx.workerId]);
      return payload;
    };
    const workers = await Promise.all(['w1', 'w2', 'w3'].map((id) => pool.worker(id, { handlers: { record } })));
    const client = await pool.client();

    const correlationIds = new Map<number, number>();
    const summary = await runLoad(
      client,
      { count: 1000, concurrency: 32, ratePerSec: undefined, job: 'record', payload: { hello: 'world' }, timeoutMs: 20_000 },
      (outcome) => correlationIds.set(outcome.index, (correlationIds.get(outcome.index) ?? 0) + 1),
    );

    expect(summary).toMatchObject({ sent: 1000, ok: 1000, errors: 0, timedOut: 0 });
    expect(correlationIds.size).toBe(1000);
    expect([...correlationIds.values()].every((n) => n === 1)).toBe(true);
    expect(handledBy.size).toBe(1000);
    expect([...handledBy.values()].every((ids) => ids.length === 1)).toBe(true);
    expect(Object.keys(summary.repliesByWorker).sort()).toEqual(['w1', 'w2', 'w3']);
    // A worker counts a job once the broker confirmed its reply, which can land just after the caller has it.
    await waitFor('workers to count 1000 processed', () => workers.reduce((sum, w) => sum + w.stats().processed, 0) === 1000);
  });

  it('returns the result, the worker id and timings in the reply', async () => {
    await pool.worker('solo');
    const client = await pool.client();

    const reply = await client.call('sleep', { ms: 20 }, 5000);
    expect(reply).toMatchObject({ ok: true, result: { sleptMs: 20 }, workerId: 'solo' });
    expect(reply.timings.serviceMs).toBeGreaterThanOrEqual(19);
    expect(reply.timings.queuedMs).not.toBeNull();
  });

  it("gives the job its caller's deadline (the worker's expiry check goes by it)", async () => {
    await pool.worker('solo', { handlers: { deadline: (_payload: unknown, ctx: JobContext) => ctx.deadline ?? null } });
    const client = await pool.client();

    const before = Date.now();
    const reply = await client.call('deadline', null, 5000);
    const after = Date.now();
    expect(reply.ok).toBe(true);
    const deadline = (reply as { result: number }).result;
    expect(deadline).toBeGreaterThanOrEqual(before + 5000);
    expect(deadline).toBeLessThanOrEqual(after + 5000);
  });

  it('gives a job error back to the caller as an error reply', async () => {
    await pool.worker('solo', { handlers: { boom: () => { throw new Error('kaboom'); } } });
    const client = await pool.client();

    expect(await client.call('boom', null, 5000)).toMatchObject({ ok: false, error: { code: 'JOB_FAILED', message: 'kaboom' } });
    expect(await client.call('nope', null, 5000)).toMatchObject({ ok: false, error: { code: 'UNKNOWN_JOB' } });
    expect(await client.call('sleep', { ms: -1 }, 5000)).toMatchObject({ ok: false, error: { code: 'BAD_PAYLOAD' } });
    expect(await client.call('echo', 'still up', 5000)).toMatchObject({ ok: true, result: 'still up' });
  });

  it('times out a request nobody answers, and the expired request is not run later', async () => {
    const client = await pool.client();
    await expect(client.call('echo', 1, 300)).rejects.toMatchObject({ code: 'TIMEOUT' });

    let ran = 0;
    await pool.worker('late', { handlers: { echo: () => ++ran } });
    expect(await client.call('sleep', { ms: 1 }, 5000)).toMatchObject({ ok: true });
    expect(ran).toBe(0);
  });

  it('refuses an oversized request before publishing it', async () => {
    const client = await pool.client();
    await expect(client.call('echo', 'x'.repeat(2 * 1024 * 1024), 1000)).rejects.toMatchObject({ code: 'BODY_TOO_LARGE' });
  });
});
