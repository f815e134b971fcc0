import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { newNamespace, removeNamespace } from '../helpers/broker.js';
import { poolContainers } from '../helpers/docker.js';

const run = promisify(execFile);

/** README.md's demo (`npm run demo` is infra/setup.sh, then this script), in a namespace of its own. */
describe('the demo (infra/demo.sh)', () => {
  let namespace = '';
  afterEach(async () => {
    await run('node', ['dist/dispatcher/tools/cleanup.js', '--namespace', namespace]).catch(() => undefined);
    await removeNamespace(namespace);
  });

  it('serves 1000 requests from 3 worker containers and a spare, then quits and checks that nothing of the pool is left running', async () => {
    namespace = newNamespace();
    const { stdout } = await run('bash', ['infra/demo.sh'], { env: { ...process.env, SHOAL_NAMESPACE: namespace }, maxBuffer: 16 * 1024 * 1024 });
    expect(stdout).toContain('demo: 4 consumers');
    expect(stdout.match(/^demo: container /gm)).toHaveLength(4);
    expect(stdout).toMatch(/^sent 1000 {2}ok 1000 {2}errors 0 {2}timed out 0$/m);
    expect(stdout).toContain(`sent quit to pool "${namespace}"`);
    expect(stdout).toContain('demo: dispatcher exited; worker processes left: 0, containers of the pool left: 0');
    // Its own check agrees with the engine's view.
    expect(await poolContainers(namespace)).toEqual([]);
  }, 120_000);
});
