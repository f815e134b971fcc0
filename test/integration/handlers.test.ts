import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ProcessRuntime } from '../../infra/runtime/process.js';
import type { RpcCaller } from '../../infra/transport/types.js';
import { AMQP_URL, connectClient, newNamespace, REDIS_URL, removeNamespace } from '../helpers/broker.js';
import { EACH_TRANSPORT } from '../helpers/transport.js';
import { runCli } from '../helpers/processes.js';

const errorsModule = path.resolve('dist/infra/errors.js');

/** A user's own job handlers, loaded by a real worker process from a module path. */
describe.each(EACH_TRANSPORT)('custom job handlers (%s)', (transport) => {
  let namespace: string;
  let client: RpcCaller | undefined;
  const runtime = new ProcessRuntime({ stdio: 'ignore' });

  afterEach(async () => {
    await client?.close();
    for (const worker of await runtime.list()) await runtime.remove(worker.workerId);
    await removeNamespace(namespace);
    client = undefined;
  });

  function handlerModule(source: string): string {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'shoal-handlers-')), 'jobs.mjs');
    writeFileSync(file, source);
    return file;
  }

  it('runs them next to the built-in jobs, with the documented error contract', async () => {
    namespace = newNamespace();
    const module = handlerModule(`
      import { PermanentJobError } from ${JSON.stringify(errorsModule)};
      export default {
        greet: async (payload, ctx) => ({ hello: payload.name, by: ctx.workerId, attempt: ctx.deliveryCount }),
        refuse: () => { throw new PermanentJobError('no thanks', { code: 'REFUSED' }); },
      };`);
    await runtime.start({ workerId: `${namespace}-custom`, role: 'worker', env: { SHOAL_AMQP_URL: AMQP_URL, SHOAL_NAMESPACE: namespace, SHOAL_HANDLERS: module, SHOAL_TRANSPORT: transport, SHOAL_REDIS_URL: transport === 'bullmq' ? REDIS_URL : 'off' } });
    const connected = await connectClient(namespace, 5, transport);
    client = connected;

    expect(await connected.call('greet', { name: 'shoal' }, 10_000)).toMatchObject({ ok: true, result: { hello: 'shoal', by: `${namespace}-custom`, attempt: 0 } });
    expect(await connected.call('refuse', null, 5000)).toMatchObject({ ok: false, error: { code: 'REFUSED', message: 'no thanks' } });
    expect(await connected.call('echo', 'built-in', 5000)).toMatchObject({ ok: true, result: 'built-in' });
  });

  it('a worker refuses to start with a module that is not a handler map, and says why', async () => {
    namespace = newNamespace();
    const module = handlerModule('export default { greet: "not a function" };');
    const result = await runCli('worker/main.js', [], { SHOAL_HANDLERS: module, SHOAL_NAMESPACE: namespace, SHOAL_TRANSPORT: transport });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`job handler "greet" in ${module} is not a function`);
  });
});
