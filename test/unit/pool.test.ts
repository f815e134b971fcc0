import { EventEmitter } from 'node:events';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Pool, restartDelayMs } from '../../dispatcher/pool.js';
import type { WorkerReport } from '../../infra/worker-report.js';
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
  /** Like Swarm, which names its tasks: the id in the spec is not the one the worker gets. */
  namesWorkers = false;
  private started = 0;

  async list() { return [...this.workers.values()]; }
  async start(spec: WorkerSpec) {
    if (this.failStarts > 0) {
      this.failStarts--;
      throw new Error('image missing');
    }
    const workerId = this.namesWorkers ? `task-${++this.started}` : spec.workerId;
    const handle = { workerId, role: spec.role, runtimeId: workerId, running: true, startedAt: Date.now() };
    this.workers.set(workerId, handle);
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

function pool(runtime: FakeRuntime, size: number, spares = 0, promoted: string[] = []) {
  return new Pool({
    runtime, namespace: 'p', size, spares, workerEnv: {}, drainGraceMs: 1000, logger: pino({ level: 'silent' }),
    promote: async (id) => promoted.push(id),
  });
}

/** Lets background drains finish. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 10));

function report(workerId: string, fields: Partial<WorkerReport> = {}): WorkerReport {
  return { workerId, role: 'worker', state: 'active', inFlight: 0, processed: 0, failed: 0, redelivered: 0, serviceMsTotal: 0, waitBuckets: [], startedAt: 0, reportedAt: 0, ...fields };
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
  it('takes the worker id a runtime gives (Swarm names its tasks), and drains and removes by it', async () => {
    const runtime = new FakeRuntime();
    runtime.namesWorkers = true;
    const p = pool(runtime, 2);
    await p.start();
    expect(p.workerIds.sort()).toEqual(['task-1', 'task-2']);
    await p.resize(1);
    await settle();
    expect(runtime.drained).toHaveLength(1);
    expect(runtime.removed).toEqual(runtime.drained);
    expect(runtime.drained[0]).toMatch(/^task-[12]$/);
    runtime.crash(p.workerIds[0]!);
    await settle();
    expect(runtime.removed).toHaveLength(2); // the crashed one, by the runtime's id
    await p.shutdown();
  });

  it('starts workers up to its size and drains extras when shrunk', async () => {
    const runtime = new FakeRuntime();
    const p = pool(runtime, 3);
    await p.start();
    expect(runtime.workers.size).toBe(3);
    await p.resize(1);
    expect(p.view()).toEqual({ active: 0, starting: 1, spares: 0 }); // draining workers are no longer capacity
    await settle();
    expect(runtime.workers.size).toBe(1);
    expect(runtime.drained).toHaveLength(2);
  });

  it('removes a worker it scales down only once its drain has ended (it finishes and acks what it holds first)', async () => {
    const runtime = new FakeRuntime();
    let endDrain: () => void = () => undefined;
    const drainEnded = new Promise<void>((resolve) => (endDrain = resolve));
    const drain = runtime.drain.bind(runtime);
    runtime.drain = async (workerId) => {
      await drainEnded;
      return drain(workerId);
    };
    const p = pool(runtime, 2);
    await p.start();
    await p.resize(1);
    await settle();
    expect(runtime.removed).toEqual([]); // still draining: not removed
    expect(runtime.workers.size).toBe(2);
    endDrain();
    await settle();
    expect(runtime.removed).toEqual(runtime.drained);
    expect(runtime.removed).toHaveLength(1);
    await p.shutdown();
  });

  it('counts a worker as active once it reports, and scales down the least busy first', async () => {
    const runtime = new FakeRuntime();
    const p = pool(runtime, 3);
    await p.start();
    const [a, b, c] = p.workerIds as [string, string, string];
    p.observe([report(a, { inFlight: 4 }), report(b, { inFlight: 0 }), report(c, { inFlight: 2 })], 0);
    expect(p.view()).toEqual({ active: 3, starting: 0, spares: 0 });
    await p.resize(2);
    await settle();
    expect(runtime.drained).toEqual([b]);
  });

  it('keeps warm spares apart from the regular workers', async () => {
    const runtime = new FakeRuntime();
    const p = pool(runtime, 2, 1);
    await p.start();
    expect(runtime.workers.size).toBe(3);
    expect([...runtime.workers.values()].filter((w) => w.role === 'spare')).toHaveLength(1);
    expect(p.view()).toEqual({ active: 0, starting: 2, spares: 0 }); // the spare is not consuming yet either
  });

  it('carries out a plan: promotes the spares it names, retires the workers it names, starts what is missing, refills the spares', async () => {
    const runtime = new FakeRuntime();
    const promoted: string[] = [];
    const p = pool(runtime, 2, 1, promoted);
    await p.start();
    const spare = p.snapshot().find((m) => m.role === 'spare')!.workerId;
    const [a, b] = p.snapshot().filter((m) => m.role === 'worker').map((m) => m.workerId) as [string, string];
    p.observe(p.snapshot().map((m) => report(m.workerId, { role: m.role })), 0);
    const plan = { promote: [{ workerId: spare, saturated: true }], retire: [a], start: 2 };
    await p.apply({ at: 0, observation: { arrivalRate: 0, serviceMs: 50, backlog: 0, backlogGrowth: 0, inFlight: 0, waitP95Ms: undefined }, pool: p.view(), decision: { desired: 4, recommendation: 4, reason: 'test' }, ...plan });
    await settle();
    expect(promoted).toEqual([spare]);
    expect(runtime.drained).toEqual([a]);
    expect(p.view()).toEqual({ active: 2, starting: 2, spares: 0 }); // b and the promoted spare; two new ones
    expect(p.snapshot().filter((m) => m.role === 'spare' && m.state === 'starting')).toHaveLength(1);
    expect(p.workerIds).toContain(b);
  });

  it('without worker reports, counts a started worker as active after the startup grace', async () => {
    const runtime = new FakeRuntime();
    const p = pool(runtime, 1);
    await p.start();
    p.observe(undefined, Date.now());
    expect(p.view()).toEqual({ active: 0, starting: 1, spares: 0 });
    p.observe(undefined, Date.now() + 60_000);
    expect(p.view()).toEqual({ active: 1, starting: 0, spares: 0 });
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
