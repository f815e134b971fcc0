import { spawn, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import type { WorkerReport } from '../../infra/worker-report.js';
import { newNamespace, REDIS_URL, removeNamespace, waitFor, workerPids } from '../helpers/broker.js';
import { exitOf, startDispatcher } from '../helpers/processes.js';
import { EACH_TRANSPORT, poolConsumers, transportArgs } from '../helpers/transport.js';

/**
 * Ctrl-C on the producer CLI, as a user presses it: the built CLI against a
 * pool of worker processes, sent SIGINT mid-run. It stops sending, waits a
 * short grace for the replies in flight, prints the summary so far and exits
 * 130; a second Ctrl-C exits at once.
 */
describe.each(EACH_TRANSPORT)('the producer CLI on Ctrl-C (%s)', (transport) => {
  let namespace: string;
  const children: ChildProcess[] = [];

  afterEach(async () => {
    for (const child of children.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exitOf(child);
      }
    }
    for (const pid of workerPids(namespace)) process.kill(pid, 'SIGKILL');
    await removeNamespace(namespace);
  });

  async function startPool(size: number): Promise<void> {
    const { child } = startDispatcher(['--min', String(size), '--max', String(size), '--spares', '0', '--metrics-port', '0', '--runtime', 'process', '--namespace', namespace, ...transportArgs(transport)]);
    children.push(child);
    await waitFor(`${size} consumers`, async () => (await poolConsumers(namespace, transport)) === size);
  }

  function startProducer(args: string[], env: Record<string, string> = {}) {
    const child = spawn(process.execPath, ['dist/producer/cli.js', '--namespace', namespace, ...transportArgs(transport), ...args], {
      env: { ...process.env, SHOAL_LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    return { child, stdout: () => stdout, stderr: () => stderr };
  }

  const answeredLines = (stdout: string) => stdout.split('\n').filter((line) => /^#\d+ /.test(line));

  it('stops sending, counts the replies in flight, prints the summary so far and exits 130', async () => {
    namespace = newNamespace();
    await startPool(2);
    const concurrency = 8;
    const producer = startProducer(['--count', '100000', '--concurrency', String(concurrency), '--job', 'sleep', '--payload', '{"ms":100}', '--each']);

    const seen = (await waitFor('20 answered requests', () => { const lines = answeredLines(producer.stdout()); return lines.length >= 20 && lines; })).length;
    producer.child.kill('SIGINT');
    expect(await exitOf(producer.child)).toBe(130);

    const stdout = producer.stdout();
    const [, sent, ok] = /^sent (\d+) {2}ok (\d+) {2}errors 0 {2}timed out 0$/m.exec(stdout) ?? [];
    expect(sent, `the summary in:\n${stdout}`).toBeDefined();
    // Sending stopped: at most the calls in flight then (plus any that landed while the signal travelled) came after.
    expect(Number(sent)).toBeGreaterThanOrEqual(seen);
    expect(Number(sent)).toBeLessThanOrEqual(seen + 2 * concurrency);
    // The replies in flight came within the grace and are counted, each once.
    expect(Number(ok)).toBe(Number(sent));
    expect(answeredLines(stdout)).toHaveLength(Number(sent));
    expect(stdout).toMatch(/^latency ms {2}p50 /m);
    expect(stdout).toMatch(/^delivery {2}confirmed \d+/m);
    expect(producer.stderr()).toContain('interrupted: sending no more');
  });

  it('exits at once on a second Ctrl-C, without waiting out the grace', async () => {
    namespace = newNamespace();
    await startPool(1);
    // Replies that will not come within the test, and a grace far longer than it waits.
    const producer = startProducer(['--count', '100', '--concurrency', '4', '--job', 'sleep', '--payload', '{"ms":60000}', '--timeout', '120s'], { SHOAL_INTERRUPT_GRACE: '60s' });

    // Ctrl-C until the handler has taken it (before the load starts, no handler is installed yet).
    await waitFor('four calls in flight', async () => (await poolBusy(namespace)) >= 4);
    producer.child.kill('SIGINT');
    await waitFor('the first Ctrl-C taken', () => producer.stderr().includes('waiting up to 60000 ms for 4 replies in flight'));
    const secondAt = Date.now();
    producer.child.kill('SIGINT');
    expect(await exitOf(producer.child)).toBe(130);
    expect(Date.now() - secondAt).toBeLessThan(10_000);
    expect(producer.stdout()).not.toContain('sent ');
  });
});

/** Requests the pool's workers hold, from the reports they write to Redis every second. */
async function poolBusy(namespace: string): Promise<number> {
  const redis = new Redis(REDIS_URL);
  try {
    const keys = await redis.keys(`${namespace}:workers:*`);
    const reports = keys.length ? await redis.mget(...keys) : [];
    return reports.reduce((sum, raw) => sum + (raw ? (JSON.parse(raw) as WorkerReport).inFlight : 0), 0);
  } finally {
    redis.disconnect();
  }
}
