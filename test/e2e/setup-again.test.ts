import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

/** The pid of each running service, by its process name: the same pids after means nothing was restarted. */
async function servicePids(): Promise<Record<string, string>> {
  const pids: Record<string, string> = {};
  for (const name of ['beam.smp', 'redis-server', 'dockerd']) {
    const { stdout } = await run('pgrep', ['-o', '-x', name]);
    pids[name] = stdout.trim();
  }
  return pids;
}

/**
 * README.md: infra/setup.sh "is idempotent and checks before it acts". `npm test` has just run it,
 * so this is its second run on a ready machine. (It rebuilds dist/, to the same files.)
 */
describe('infra/setup.sh run again on a ready machine', () => {
  it('installs, starts and restarts nothing, skips npm ci and the image build, and says it is ready', async () => {
    const before = await servicePids();
    const { stderr } = await run('bash', ['infra/setup.sh'], { maxBuffer: 16 * 1024 * 1024 });
    const lines = stderr.trim().split('\n');
    expect(lines.filter((line) => /installing|starting|enabling|CONFIG SET|npm ci|swarm init|staging|pulling/i.test(line))).toEqual([]);
    expect(lines).toContain('[setup] building'); // tsc: cheap, and always from the checked-out sources
    expect(stderr).toMatch(/is up to date \(content [0-9a-f]{16}\)/);
    expect(lines.at(-1)).toMatch(/^\[setup\] ready: RabbitMQ 127\.0\.0\.1:5672/);
    expect(await servicePids()).toEqual(before);
  }, 120_000);
});
