import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PermanentJobError } from '../../infra/errors.js';
import { loadJobHandlers } from '../../worker/jobs.js';
import { usePool } from '../helpers/fixture.js';
import { openRawLine, type RawLine } from '../helpers/raw-requests.js';
import { EACH_TRANSPORT } from '../helpers/transport.js';

/** worker/README.md, "The contract": what a handler's throw becomes, on both transports. */
describe.each(EACH_TRANSPORT)('the handler contract for failures (%s)', (transport) => {
  const pool = usePool(transport);
  let line: RawLine;
  beforeEach(async () => {
    line = await openRawLine(pool.namespace, transport);
  });
  afterEach(async () => {
    await line.close();
  });

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
