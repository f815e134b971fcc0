import { randomBytes } from 'node:crypto';
import { errorMessage } from '../infra/errors.js';
import type { Logger } from '../infra/log.js';
import type { ExitInfo, WorkerHandle, WorkerRole, WorkerRuntime } from '../infra/runtime/types.js';

export interface PoolOptions {
  runtime: WorkerRuntime;
  namespace: string;
  /** How many workers to keep running. */
  size: number;
  /** Environment every worker gets (broker URL, namespace, concurrency, ...). */
  workerEnv: Record<string, string>;
  /** How long a draining worker may take before it is killed. */
  drainGraceMs: number;
  logger: Logger;
}

/** A worker that lived shorter than this counts as a failed start. */
const HEALTHY_LIFETIME_MS = 10_000;

/**
 * Backoff between restarts after consecutive failed starts, so a worker that
 * cannot start (bad image, bad config) does not crash-loop the host.
 */
export function restartDelayMs(consecutiveFailures: number): number {
  if (consecutiveFailures <= 0) return 0;
  return Math.min(30_000, 500 * 2 ** (consecutiveFailures - 1));
}

/**
 * Keeps `size` workers running through a WorkerRuntime: starts missing ones,
 * replaces ones that die, drains extras, and on shutdown drains and removes
 * every worker it owns.
 */
export class Pool {
  private readonly members = new Map<string, WorkerHandle>();
  private unsubscribe: (() => void) | undefined;
  private reconciling: Promise<void> = Promise.resolve();
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private readonly removals = new Set<Promise<void>>();
  private stopping: Promise<void> | undefined;
  private size: number;

  constructor(private readonly options: PoolOptions) {
    this.size = options.size;
  }

  get workerIds(): string[] {
    return [...this.members.keys()];
  }

  async start(): Promise<void> {
    this.unsubscribe = this.options.runtime.onExit((info) => this.onExit(info));
    await this.adoptLeftovers();
    await this.reconcile();
  }

  /** Changes the target size and converges to it. */
  resize(size: number): Promise<void> {
    this.size = size;
    return this.reconcile();
  }

  /** Workers a crashed run of this pool left behind: keep the running ones, remove the rest. */
  private async adoptLeftovers(): Promise<void> {
    for (const handle of await this.options.runtime.list()) {
      if (handle.running) {
        this.members.set(handle.workerId, handle);
        this.options.logger.info({ workerId: handle.workerId }, 'adopted a running worker');
      } else {
        await this.options.runtime.remove(handle.workerId);
        this.options.logger.info({ workerId: handle.workerId }, 'removed a dead worker left from an earlier run');
      }
    }
  }

  /** Serialised, so that two triggers never start duplicate workers. */
  reconcile(): Promise<void> {
    this.reconciling = this.reconciling.then(() => this.converge());
    return this.reconciling;
  }

  private async converge(): Promise<void> {
    if (this.stopping) return;
    while (this.members.size < this.size && !this.stopping) {
      const workerId = `${this.options.namespace}-worker-${randomBytes(3).toString('hex')}`;
      try {
        const handle = await this.options.runtime.start({ workerId, role: 'worker' as WorkerRole, env: this.options.workerEnv });
        this.members.set(workerId, handle);
        this.options.logger.info({ workerId, runtimeId: handle.runtimeId, size: this.members.size }, 'started a worker');
      } catch (err) {
        this.failures++;
        const delay = restartDelayMs(this.failures);
        this.options.logger.error({ err: errorMessage(err), retryInMs: delay }, 'could not start a worker');
        this.scheduleRetry(delay);
        return;
      }
    }
    const extras = [...this.members.keys()].slice(this.size);
    await Promise.all(extras.map((workerId) => this.retire(workerId)));
  }

  private onExit(info: ExitInfo): void {
    const handle = this.members.get(info.workerId);
    if (!handle) return; // already retired by us
    this.members.delete(info.workerId);
    this.track(this.options.runtime.remove(info.workerId).catch(() => undefined));
    if (this.stopping) return;
    const lived = Date.now() - handle.startedAt;
    this.failures = lived < HEALTHY_LIFETIME_MS ? this.failures + 1 : 0;
    const delay = restartDelayMs(this.failures);
    this.options.logger.warn({ workerId: info.workerId, exitCode: info.exitCode, reason: info.reason, restartInMs: delay }, 'worker exited; replacing it');
    this.scheduleRetry(delay);
  }

  /** Removals of workers that ended on their own; shutdown waits for them. */
  private track(removal: Promise<void>): void {
    this.removals.add(removal);
    void removal.finally(() => this.removals.delete(removal));
  }

  private scheduleRetry(delayMs: number): void {
    if (this.stopping || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.reconcile();
    }, delayMs);
  }

  /** Drains one worker (it finishes and acks what it holds), then removes it. */
  private async retire(workerId: string): Promise<void> {
    this.members.delete(workerId);
    try {
      const info = await this.options.runtime.drain(workerId, this.options.drainGraceMs);
      this.options.logger.info({ workerId, exitCode: info.exitCode, reason: info.reason }, 'worker drained');
    } finally {
      await this.options.runtime.remove(workerId);
    }
  }

  /** Drains and removes every worker of the pool. Same promise on every call. */
  shutdown(): Promise<void> {
    this.stopping ??= (async () => {
      clearTimeout(this.retryTimer);
      await this.reconciling.catch(() => undefined);
      const ids = [...this.members.keys()];
      this.options.logger.info({ workers: ids.length }, 'draining the pool');
      await Promise.allSettled(ids.map((id) => this.retire(id)));
      await Promise.allSettled([...this.removals]);
      this.unsubscribe?.();
    })();
    return this.stopping;
  }
}
