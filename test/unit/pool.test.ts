import { EventEmitter } from 'node:events';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Pool, restartDelayMs } from '../../dispatcher/pool.js';
import type { ExitInfo, WorkerHandle, WorkerRuntime, WorkerSpec } from '../../infra/runtime/types.js';
import { isLastAttempt } from '../../worker/worker.js';

/** An in-memory runtime: isolates the pool's bookkeeping from processes and containers. */
class FakeRuntime implements WorkerRuntime {
  readonly kind = 'process' as const;
  readonly workers = new Map<string, WorkerHandle>();
  readonly drained: string[] = [];
  readonly removed: string[] = [];
  private readonly events = new EventEmitter();
  failStarts = 0;

  async list() { return [...this.workers.values()]; }
  async start(spec: WorkerSpec) {
    if (this.failStarts > 0) {
      this.failStarts--;
      throw new Error('image missing');
    }
    const handle = { workerId: spec.workerId, role: spec.role, runtimeId: spec.workerId, running: true, startedAt: Date.now() };
    this.workers.set(spec.workerId, handle);
    return handle;
  }
  async drain(workerId: string): Promise<ExitInfo> {
    this.drained.push(workerId);
    this.workers.get(workerId)!.running = false;
    return { workerId, exitCode: 0, reason: 'exited' };
  }
  async remove(workerId: string) {
    this.removed.push(workerId);
    this.workers.delete(workerId);
  }
  onExit(listener: (info: ExitInfo) => void) {
    this.events.on('exit', listener);
    return () => this.events.off('exit', listener);
  }
  crash(workerId: string) {
    this.workers.get(workerId)!.running = false;
    this.events.emit('exit', { workerId, exitCode: 137, reason: 'killed' });
  }
  async close() {}
}

function pool(runtime: FakeRuntime, size: number) {
  return new Pool({ runtime, namespace: 'p', size, workerEnv: {}, drainGraceMs: 1000, logger: pino({ level: 'silent' }) });
}

describe('restart backoff', () => {
  it.each([[0, 0], [1, 500], [2, 1000], [3, 2000], [10, 30_000]])('after %i failures waits %i ms', (failures, ms) => {
    expect(restartDelayMs(failures)).toBe(ms);
  });
});

describe('delivery limit', () => {
  it('a limit of N allows N+1 deliveries', () => {
    expect([0, 1, 2].map((count) => isLastAttempt(count, 2))).toEqual([false, false, true]);
  });
});

describe('pool', () => {
  it('starts workers up to its size and drains extras when shrunk', async () => {
    const runtime = new FakeRuntime();
    const p = pool(runtime, 3);
    await p.start();
    expect(runtime.workers.size).toBe(3);
    await p.resize(1);
    expect(runtime.workers.size).toBe(1);
    expect(runtime.drained).toHaveLength(2);
  });

  it('adopts running leftovers and removes dead ones', async () => {
    const runtime = new FakeRuntime();
    runtime.workers.set('alive', { workerId: 'alive', role: 'worker', runtimeId: 'x', running: true, startedAt: 0 });
    runtime.workers.set('dead', { workerId: 'dead', role: 'worker', runtimeId: 'y', running: false, startedAt: 0 });
    const p = pool(runtime, 2);
    await p.start();
    expect(p.workerIds).toContain('alive');
    expect(runtime.removed).toEqual(['dead']);
    expect(runtime.workers.size).toBe(2);
  });

  it('replaces a worker that dies', async () => {
    const runtime = new FakeRuntime();
    const p = pool(runtime, 2);
    await p.start();
    const [victim] = p.workerIds;
    runtime.crash(victim!);
    await new Promise((resolve) => setTimeout(resolve, 700)); // first restart waits 500 ms
    await p.reconcile();
    expect(p.workerIds).toHaveLength(2);
    expect(p.workerIds).not.toContain(victim);
    expect(runtime.removed).toContain(victim);
    await p.shutdown();
  });

  it('backs off instead of crash-looping when starts fail', async () => {
    const runtime = new FakeRuntime();
    runtime.failStarts = 1;
    const p = pool(runtime, 1);
    await p.start();
    expect(runtime.workers.size).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 700));
    await p.reconcile();
    expect(runtime.workers.size).toBe(1);
    await p.shutdown();
  });

  it('drains and removes every worker on shutdown, once', async () => {
    const runtime = new FakeRuntime();
    const p = pool(runtime, 3);
    await p.start();
    const first = p.shutdown();
    expect(p.shutdown()).toBe(first);
    await first;
    expect(runtime.workers.size).toBe(0);
    expect(runtime.drained).toHaveLength(3);
  });
});
