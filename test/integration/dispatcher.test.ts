import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { newNamespace, removeNamespace, waitFor, workerPids } from '../helpers/broker.js';
import { exitOf, killProcessPool, runCli, startDispatcher } from '../helpers/processes.js';
import { EACH_TRANSPORT, poolConsumers, transportArgs } from '../helpers/transport.js';

/** The dispatcher as a user runs it: a real process that starts worker processes. */
describe.each(EACH_TRANSPORT)('dispatcher with the local-process runtime (%s)', (transport) => {
  let namespace: string;
  let dispatcher: ChildProcess | undefined;

  afterEach(async () => {
    await killProcessPool(dispatcher, namespace);
    dispatcher = undefined;
  });

  async function startPool(size: number) {
    const started = startDispatcher(['--min', String(size), '--max', String(size), '--spares', '0', '--metrics-port', '0', '--runtime', 'process', '--namespace', namespace, ...transportArgs(transport)]);
    dispatcher = started.child;
    await waitFor(`${size} consumers`, async () => (await poolConsumers(namespace, transport)) === size);
    return started;
  }

  it('serves the producer CLI, replaces a killed worker, and leaves nothing behind after quit', async () => {
    namespace = newNamespace();
    const { child } = await startPool(3);
    expect(workerPids(namespace)).toHaveLength(3);

    const report = path.join(mkdtempSync(path.join(tmpdir(), 'shoal-report-')), 'run.html');
    const load = await runCli('producer/cli.js', ['--count', '300', '--json', '--namespace', namespace, '--report', report, ...transportArgs(transport)]);
    expect(load.code).toBe(0);
    const summary = JSON.parse(load.stdout) as { ok: number; sent: number; repliesByWorker: Record<string, number> };
    expect(summary).toMatchObject({ sent: 300, ok: 300 });
    expect(Object.keys(summary.repliesByWorker)).toHaveLength(3);
    // The HTML report: uPlot inlined, and the pool's size from the dispatcher's event log.
    const html = readFileSync(report, 'utf8');
    expect(html).toContain('uPlot');
    expect(html).toMatch(/"pool":\[\{"t":0,"regular":3,"spares":0,"draining":0\}/);

    const [victim] = workerPids(namespace);
    process.kill(victim!, 'SIGKILL');
    await waitFor('a replacement worker', async () => {
      const pids = workerPids(namespace);
      return pids.length === 3 && !pids.includes(victim!) && (await poolConsumers(namespace, transport)) === 3;
    });

    // A drain to an id no worker has reaches nobody, although the pool's workers and dispatcher listen for control messages.
    const stray = await runCli('producer/quit.js', ['--namespace', namespace, '--drain', 'no-such-worker', ...transportArgs(transport)]);
    expect(stray.stdout).toContain('sent drain to worker no-such-worker, but nobody was listening');
    expect(workerPids(namespace)).toHaveLength(3);

    const quit = await runCli('producer/quit.js', ['--namespace', namespace, ...transportArgs(transport)]);
    expect(quit.stdout).toContain(`sent quit to pool "${namespace}"`);
    expect(await exitOf(child)).toBe(0);
    expect(workerPids(namespace)).toEqual([]);
    expect(await poolConsumers(namespace, transport)).toBe(0);
  });

  it('serves Prometheus metrics, a status and a live page, on localhost only by default', async () => {
    namespace = newNamespace();
    const { output } = await startPool(1);
    const url = await waitFor('the metrics URL in the log', () => /"url":"(http:\/\/[^"]+\/metrics)"/.exec(output())?.[1]);
    expect(new URL(url).hostname).toBe('127.0.0.1');
    // The gauges fill in at the first scaling tick, once the worker has reported.
    const body = await waitFor('the worker in the metrics', async () => {
      const text = await (await fetch(url)).text();
      return text.includes('shoal_workers{role="worker",state="active"} 1') && text;
    });
    expect(body).toContain('shoal_desired_workers 1');
    const base = url.replace(/metrics$/, '');
    const live = await (await fetch(base)).text();
    expect(live).toContain('uPlot');
    const { status, history } = (await (await fetch(`${base}status`)).json()) as { status: { namespace: string }; history: { regular: number }[] };
    expect(status.namespace).toBe(namespace);
    expect(history.at(-1)).toMatchObject({ regular: 1 });
  });

  it('drains and stops every worker on SIGINT', async () => {
    namespace = newNamespace();
    const { child, output } = await startPool(2);
    child.kill('SIGINT');
    expect(await exitOf(child)).toBe(0);
    expect(workerPids(namespace)).toEqual([]);
    expect(output()).toContain('pool stopped');
  });

  it('leaves no worker process behind when the dispatcher itself is killed', async () => {
    namespace = newNamespace();
    const { child } = await startPool(2);
    child.kill('SIGKILL');
    await exitOf(child);
    await waitFor('orphaned workers to exit', () => workerPids(namespace).length === 0, 10_000);
  });
});

describe('command-line input', () => {
  it.each([
    ['dispatcher/main.js', ['--min', '3', '--max', '2'], 'SHOAL_MAX_WORKERS (--max) must be >= SHOAL_MIN_WORKERS (--min) (got 2 < 3)'],
    ['dispatcher/main.js', ['--runtime', 'kubernetes'], 'SHOAL_RUNTIME (--runtime) must be one of auto, docker, swarm, process (got "kubernetes")'],
    ['producer/cli.js', ['--count', '-5'], 'SHOAL_COUNT (--count) must be >= 1 (got "-5")'],
    ['producer/cli.js', ['--timeout', 'soon'], 'SHOAL_TIMEOUT (--timeout) must be a duration like 500ms, 5s or 1m'],
    ['producer/cli.js', ['--payload', '{bad'], `SHOAL_PAYLOAD (--payload) must be JSON`],
    ['producer/cli.js', ['--amqp-url', 'http://nope'], 'SHOAL_AMQP_URL (--amqp-url) must be a URL starting with amqp:// or amqps://'],
    ['producer/quit.js', ['--namespace', 'Bad Name!'], 'SHOAL_NAMESPACE (--namespace) must be lowercase letters'],
    ['producer/cli.js', ['--transport', 'kafka'], 'SHOAL_TRANSPORT (--transport) must be one of rabbitmq, bullmq'],
    ['dispatcher/main.js', ['--transport', 'bullmq', '--redis-url', 'off'], 'SHOAL_REDIS_URL (--redis-url) cannot be "off" with SHOAL_TRANSPORT (--transport) bullmq'],
  ])('%s %j fails with a clear message', async (script, args, message) => {
    const result = await runCli(script, args);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
  });

  it('the worker names a bad environment variable', async () => {
    const result = await runCli('worker/main.js', [], { SHOAL_CONCURRENCY: '0' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('SHOAL_CONCURRENCY must be >= 1 (got "0")');
  });

  it('the producer exits non-zero when requests fail, and says why', async () => {
    const namespace = newNamespace();
    try {
      const result = await runCli('producer/cli.js', ['--count', '3', '--timeout', '300ms', '--namespace', namespace]);
      expect(result.code).toBe(1);
      expect(result.stdout).toContain('timed out 3');
    } finally {
      await removeNamespace(namespace);
    }
  });

  it.each(EACH_TRANSPORT)('the end-client says so when nobody is listening (%s)', async (transport) => {
    const namespace = newNamespace();
    try {
      const result = await runCli('producer/quit.js', ['--namespace', namespace, ...transportArgs(transport)]);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('nobody was listening');
    } finally {
      await removeNamespace(namespace);
    }
  });

  it.each([
    ['producer/cli.js', []],
    ['producer/quit.js', []],
    ['dispatcher/main.js', ['--metrics-port', '0', '--runtime', 'process']],
  ])('%s: a clear error when BullMQ\'s Redis cannot be reached', async (script, extra) => {
    const result = await runCli(script, ['--transport', 'bullmq', '--redis-url', 'redis://127.0.0.1:1', '--namespace', 'test-no-redis', ...extra]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('cannot reach Redis at redis://127.0.0.1:1 for the bullmq transport');
  });

  it('a clear error when the broker cannot be reached', async () => {
    const result = await runCli('producer/cli.js', ['--count', '1', '--amqp-url', 'amqp://127.0.0.1:1']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('cannot connect to RabbitMQ at amqp://127.0.0.1:1');
  });
});
