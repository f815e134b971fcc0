import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { STARTING_DRAIN_GRACE_MS } from '../../dispatcher/pool.js';
import { ProcessRuntime } from '../../infra/runtime/process.js';
import { AMQP_URL, createWorker, newNamespace, REDIS_URL, removeNamespace, waitFor, workerPids } from '../helpers/broker.js';
import { drainDuringBoot, drainIdle, drainWhileConnecting, DRAIN_GRACE_MS, PROMPT_EXIT_MS, retireWhileStarting } from '../helpers/drain-timing.js';
import { usePool } from '../helpers/fixture.js';
import { EACH_TRANSPORT, poolConsumers, sendControlTo } from '../helpers/transport.js';
import type { TransportKind } from '../../infra/transport/types.js';

/**
 * Issue 12: a worker drained while it is still starting must be gone at once,
 * never left to sit until the drain grace; a drained worker with nothing in
 * flight exits within about a second. Here on local processes; the Docker
 * side is test/e2e/drain-while-booting.test.ts.
 */
describe.each(EACH_TRANSPORT)('a Worker closed while it starts (%s, in process)', (transport) => {
  const pool = usePool(transport);

  // Every millisecond from 0 to 60 ms into start(): before it connects, in the handshake, in each
  // step of its setup (a close that raced the reply channel's opening hung for good, about 1 in 25
  // closes 25-40 ms in), and after.
  it('close() at any point of start() resolves promptly, and it never consumes', async () => {
    const offsets = Array.from({ length: 61 }, (_, i) => i);
    const closeMs: number[] = [];
    for (const afterMs of offsets) {
      const worker = await createWorker(pool.namespace, `boot-${afterMs}`, { transport });
      const starting = worker.start();
      if (afterMs > 0) await sleep(afterMs);
      const began = Date.now();
      const closed = await Promise.race([worker.close('test').then(() => true), sleep(PROMPT_EXIT_MS).then(() => false)]);
      expect(closed, `close() ${afterMs} ms into start() did not resolve within ${PROMPT_EXIT_MS} ms`).toBe(true);
      closeMs.push(Date.now() - began);
      await starting; // settles too: start() cancelled by close() is no failure
      expect(worker.stats()).toMatchObject({ state: 'draining', inFlight: 0 });
    }
    console.log(`[drain] in-process ${transport} worker closed at ${offsets.length} points of start(): close() took at most ${Math.max(...closeMs)} ms`);
    expect(Math.max(...closeMs)).toBeLessThan(PROMPT_EXIT_MS);
    await sleep(300); // a consumer registered late would show up by now
    expect(await poolConsumers(pool.namespace, transport)).toBe(0);
    // Nothing of them is left listening either: no control queue (RabbitMQ) or subscription (BullMQ).
    for (const afterMs of offsets) {
      expect(await sendControlTo(pool.namespace, transport, { type: 'drain', workerId: `boot-${afterMs}` })).toEqual({ routed: false });
    }
  });
});

describe('a worker drained while it boots (local processes)', () => {
  let namespace: string;
  let runtime: ProcessRuntime;
  const env = (transport: TransportKind = 'rabbitmq') => ({
    SHOAL_AMQP_URL: AMQP_URL, SHOAL_REDIS_URL: REDIS_URL, SHOAL_NAMESPACE: namespace, SHOAL_TRANSPORT: transport, SHOAL_LOG_LEVEL: 'warn',
  });

  beforeEach(() => {
    namespace = newNamespace();
    runtime = new ProcessRuntime({ stdio: 'ignore' });
  });

  afterEach(async () => {
    for (const worker of await runtime.list()) await runtime.remove(worker.workerId);
    expect(workerPids(namespace)).toEqual([]);
    await runtime.close();
    await removeNamespace(namespace);
  });

  // 0 ms: Node is still loading its modules; later ones land in the config, the connect, the setup.
  it.each([0, 200, 400, 700, 1000, 1500])('drained %i ms after its start, it is gone at once and not killed', async (afterMs) => {
    const { ms, info } = await drainDuringBoot(runtime, `${namespace}-boot`, env(), afterMs);
    console.log(`[drain] process worker drained ${afterMs} ms into boot: gone in ${ms} ms (exit ${info.exitCode}, ${info.reason})`);
    expect(ms).toBeLessThan(PROMPT_EXIT_MS);
    expect(info.reason).toBe('exited');
    expect(info.exitCode).not.toBe(137);
    expect(workerPids(namespace)).toEqual([]);
    expect(await poolConsumers(namespace, 'rabbitmq')).toBe(0);
  });

  // Node has loaded and the worker is in worker.start(): the drain cancels the start, and it exits 0.
  it.each([['the broker', 'forward'], ['a broker that never answers', 'silent']] as const)('drained as it connects to %s, it exits 0 at once', async (what, mode) => {
    const { ms, info } = await drainWhileConnecting(runtime, `${namespace}-connecting`, env(), mode);
    console.log(`[drain] process worker drained as it connects to ${what}: gone in ${ms} ms (exit ${info.exitCode}, ${info.reason})`);
    expect(info).toMatchObject({ exitCode: 0, reason: 'exited' });
    expect(ms).toBeLessThan(PROMPT_EXIT_MS);
  });

  it('a pool scaled down while its worker is starting is rid of it at once', async () => {
    const { ms, exits, stateWhenRetired } = await retireWhileStarting(runtime, namespace, env());
    console.log(`[drain] process pool retired a starting worker in ${ms} ms (exits: ${JSON.stringify(exits)})`);
    expect(stateWhenRetired).toBe('starting');
    expect(ms).toBeLessThan(PROMPT_EXIT_MS);
    expect(exits.filter((e) => e.reason === 'killed' || e.exitCode === 137)).toEqual([]);
    expect(await runtime.list()).toEqual([]);
    expect(workerPids(namespace)).toEqual([]);
  });

  it('a starting worker that does not answer the drain is killed after the short starting grace, not the full one', async () => {
    // A stand-in for a boot that hangs: it ignores SIGTERM and never connects.
    const dir = mkdtempSync(path.join(tmpdir(), 'shoal-hung-'));
    const entry = path.join(dir, 'hung-worker.js');
    const ready = path.join(dir, 'ready');
    writeFileSync(entry, `process.on('SIGTERM', () => {});\nrequire('node:fs').writeFileSync(${JSON.stringify(ready)}, '');\nsetInterval(() => {}, 1000);\n`);
    const hung = new ProcessRuntime({ stdio: 'ignore', workerEntry: entry });
    try {
      const handlerInstalled = () => waitFor('the hung worker to ignore SIGTERM', () => existsSync(ready));
      const { ms, exits, stateWhenRetired } = await retireWhileStarting(hung, namespace, env(), handlerInstalled);
      console.log(`[drain] process pool retired a hung starting worker in ${ms} ms (starting grace ${STARTING_DRAIN_GRACE_MS} ms, drain grace ${DRAIN_GRACE_MS} ms)`);
      expect(stateWhenRetired).toBe('starting');
      expect(ms).toBeGreaterThanOrEqual(STARTING_DRAIN_GRACE_MS - 100);
      expect(ms).toBeLessThan(STARTING_DRAIN_GRACE_MS + 5_000);
      expect(exits).toEqual([expect.objectContaining({ reason: 'killed' })]);
      expect(await hung.list()).toEqual([]);
    } finally {
      await hung.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each(EACH_TRANSPORT)('a drained idle worker (%s) exits 0 within a generous bound', async (transport) => {
    const { ms, info } = await drainIdle(runtime, `${namespace}-idle`, env(transport), namespace, transport);
    console.log(`[drain] process worker (${transport}), idle and consuming, drained in ${ms} ms (exit ${info.exitCode})`);
    expect(info).toMatchObject({ exitCode: 0, reason: 'exited' });
    expect(ms).toBeLessThan(PROMPT_EXIT_MS);
    expect(workerPids(namespace)).toEqual([]);
  });
});
