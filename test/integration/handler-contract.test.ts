import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PermanentJobError, TransientJobError } from '../../infra/errors.js';
import { connect } from '../../producer/index.js';
import { runWorker, type JobContext, type RunningWorker } from '../../worker/index.js';
import { loadJobHandlers } from '../../worker/jobs.js';
import { AMQP_URL, REDIS_URL } from '../helpers/broker.js';
import { usePool } from '../helpers/fixture.js';
import { useRawLine } from '../helpers/raw-requests.js';
import { EACH_TRANSPORT } from '../helpers/transport.js';

/** worker/README.md, "The contract": what a handler's throw becomes, on both transports. */
describe.each(EACH_TRANSPORT)('the handler contract for failures (%s)', (transport) => {
  const pool = usePool(transport);
  const line = useRawLine(() => pool.namespace, transport);

  it("a handler's throw answers JOB_FAILED, or a PermanentJobError's own code, and dead-letters the request after one run", async () => {
    const runs = { boom: 0, refuse: 0 };
    await pool.worker('strict', {
      handlers: {
        boom: () => { runs.boom++; throw new Error('kaput'); },
        refuse: () => { runs.refuse++; throw new PermanentJobError('no thanks', { code: 'REFUSED' }); },
      },
    });
    await line.send({ id: 'c-boom', body: JSON.stringify({ job: 'boom', payload: null }) });
    await line.send({ id: 'c-refuse', body: JSON.stringify({ job: 'refuse', payload: null }) });

    expect(await line.reply('c-boom')).toMatchObject({ ok: false, error: { code: 'JOB_FAILED', message: 'kaput' }, workerId: 'strict' });
    expect(await line.reply('c-refuse')).toMatchObject({ ok: false, error: { code: 'REFUSED', message: 'no thanks' } });
    const dead = await line.deadLetters(2);
    expect(dead.map((d) => d.id).sort()).toEqual(['c-boom', 'c-refuse']);
    expect(runs).toEqual({ boom: 1, refuse: 1 }); // not retried
  });

  it('a redelivered request keeps its messageId, and the context says it was redelivered and how often it was delivered before', async () => {
    const seen: Pick<JobContext, 'messageId' | 'redelivered' | 'deliveryCount'>[] = [];
    await pool.worker('retrying', {
      handlers: {
        twice: (_payload, ctx) => {
          seen.push({ messageId: ctx.messageId, redelivered: ctx.redelivered, deliveryCount: ctx.deliveryCount });
          if (seen.length === 1) throw new TransientJobError('once more');
          return 'done';
        },
      },
    });
    const client = await pool.client();
    expect(await client.call('twice', null, 10_000)).toMatchObject({ ok: true, result: 'done' });
    expect(seen).toHaveLength(2);
    expect(seen[1]!.messageId).toBe(seen[0]!.messageId);
    expect(seen.map(({ redelivered, deliveryCount }) => ({ redelivered, deliveryCount }))).toEqual([
      { redelivered: false, deliveryCount: 0 },
      { redelivered: true, deliveryCount: 1 },
    ]);
  });

  it('runWorker with builtins: false leaves out echo, sleep and cpu', async () => {
    const url = transport === 'bullmq' ? REDIS_URL : AMQP_URL;
    let worker: RunningWorker | undefined;
    const client = await connect({ url, namespace: pool.namespace, timeout: '5s' });
    try {
      worker = await runWorker({ url, namespace: pool.namespace, handlers: { mine: () => 'mine' }, builtins: false });
      expect(await client.call('mine')).toBe('mine');
      for (const job of ['echo', 'sleep', 'cpu']) await expect(client.call(job, null)).rejects.toMatchObject({ code: 'UNKNOWN_JOB' });
    } finally {
      await client.close();
      await worker?.close();
    }
  });
});

describe('loading a handler module', () => {
  it('takes its default export, or its handlers export', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'shoal-handlers-'));
    const byDefault = path.join(dir, 'default.mjs');
    const byName = path.join(dir, 'named.mjs');
    writeFileSync(byDefault, 'export default { hello: () => "from default" };');
    writeFileSync(byName, 'export const handlers = { hello: () => "from handlers" };');
    for (const [file, answer] of [[byDefault, 'from default'], [byName, 'from handlers']] as const) {
      const handlers = await loadJobHandlers(file);
      expect(await handlers.hello!(null, {} as never)).toBe(answer);
      expect(handlers.echo).toBeDefined(); // beside the built-in jobs
    }
  });
});
