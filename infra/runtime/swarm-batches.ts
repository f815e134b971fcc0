import { setTimeout as sleep } from 'node:timers/promises';
import { ShoalError } from '../errors.js';
import type { Logger } from '../log.js';
import { ROLES, type SwarmEngine } from './swarm-engine.js';
import { currentTasks, handleOf, hasEnded, serviceName, type SwarmService } from './swarm-spec.js';
import type { WorkerHandle, WorkerRole } from './types.js';

interface PendingStart {
  env: Record<string, string>;
  resolve: (handle: WorkerHandle) => void;
  reject: (err: unknown) => void;
}

interface PendingRemove {
  taskId: string;
  done: { resolve: () => void; reject: (err: unknown) => void };
}

export interface ReplicaBatchOptions {
  namespace: string;
  logger: Logger;
  /** How long a new task may take to run before its start counts as failed. */
  startTimeoutMs: number;
  /** The role's service, ready to scale (the image there, the settings right). */
  prepare: (role: WorkerRole, env: Record<string, string>) => Promise<SwarmService>;
  /** A task this runtime ended itself: the task poll need not report it. */
  markEnded: (taskId: string) => void;
}

/**
 * Starts and removes workers by changing their service's replica count, in
 * batches: the starts and removes that came in while an update ran go
 * together in the next one. Updates of one role run one batch at a time, as
 * each reads the replica count it changes.
 */
export class ReplicaBatches {
  private readonly chains: Record<WorkerRole, Promise<void>> = { worker: Promise.resolve(), spare: Promise.resolve() };
  private readonly pendingStarts: Record<WorkerRole, PendingStart[]> = { worker: [], spare: [] };
  private readonly pendingRemoves: Record<WorkerRole, PendingRemove[]> = { worker: [], spare: [] };

  constructor(private readonly engine: SwarmEngine, private readonly options: ReplicaBatchOptions) {}

  /** Resolves with the task Swarm created for this start. */
  start(role: WorkerRole, env: Record<string, string>): Promise<WorkerHandle> {
    return new Promise((resolve, reject) => {
      this.pendingStarts[role].push({ env, resolve, reject });
      this.enqueue(role);
    });
  }

  /** Resolves once the task's slot is gone. */
  remove(role: WorkerRole, taskId: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pendingRemoves[role].push({ taskId, done: { resolve, reject } });
      this.enqueue(role);
    });
  }

  /** Waits for the batches under way. */
  async settled(): Promise<void> {
    await Promise.allSettled(ROLES.map((role) => this.chains[role]));
  }

  private enqueue(role: WorkerRole): void {
    this.chains[role] = this.chains[role].then(() => this.flush(role)).catch(() => undefined);
  }

  private async flush(role: WorkerRole): Promise<void> {
    const removes = this.pendingRemoves[role].splice(0);
    if (removes.length > 0) {
      try {
        await this.removeBatch(role, removes.map((r) => r.taskId));
        for (const r of removes) r.done.resolve();
      } catch (err) {
        for (const r of removes) r.done.reject(err);
      }
    }
    const starts = this.pendingStarts[role].splice(0);
    if (starts.length > 0) await this.startBatch(role, starts);
  }

  /** Raises the replica count by the batch's size at once and hands each start one of the new tasks. */
  private async startBatch(role: WorkerRole, batch: PendingStart[]): Promise<void> {
    const { namespace, logger } = this.options;
    try {
      const service = await this.options.prepare(role, batch[0]!.env);
      const before = new Set((await this.engine.tasksOf(service.ID)).map((t) => t.ID));
      await this.engine.scaleBy(role, batch.length);
      const fresh = await this.engine.waitForNewTasks(service.ID, before, batch.length, this.options.startTimeoutMs);
      const running = fresh.filter((t) => t.Status.State === 'running');
      const failed = batch.length - running.length;
      if (failed > 0) {
        const why = fresh.find((t) => t.Status.State !== 'running')?.Status.Err ?? 'not running in time';
        logger.error({ role, failed, why }, 'worker tasks did not start; lowering the replica count again');
        // Slots not even created count too: lowering by the ones that exist, and by the missing ones.
        const notRunning = fresh.filter((t) => t.Status.State !== 'running').map((t) => t.ID);
        await this.removeBatch(role, notRunning);
        const missing = batch.length - fresh.length;
        if (missing > 0) await this.engine.scaleBy(role, -missing);
      }
      batch.forEach((pending, i) => {
        const task = running[i];
        if (task) pending.resolve(handleOf(namespace, role, task));
        else pending.reject(new ShoalError('START_FAILED', `a ${role} task of service ${serviceName(namespace, role)} did not start`));
      });
    } catch (err) {
      const error = err instanceof ShoalError ? err : new ShoalError('START_FAILED', `could not start a ${role}: ${(err as Error).message}`, { cause: err });
      for (const pending of batch) pending.reject(error);
    }
  }

  /**
   * Lowers the replica count so that the batch's slots go. A task still
   * running is killed first when its container is on this node. Swarm removes
   * non-running slots first but does not say which of several, so every slot
   * whose task has ended goes in the same update: each of them is a worker
   * that exited or was drained, which the pool removes anyway (its own
   * remove() then finds nothing left to do).
   */
  private async removeBatch(role: WorkerRole, taskIds: string[]): Promise<void> {
    const service = await this.engine.service(role);
    if (!service) return;
    const asked = new Set(taskIds);
    for (const task of currentTasks(await this.engine.tasksOf(service.ID))) {
      if (!asked.has(task.ID) || hasEnded(task)) continue;
      await this.engine.kill(task);
      this.options.markEnded(task.ID);
    }
    await Promise.all([...asked].map((id) => this.engine.waitForEnd(id, 5_000)));
    const current = currentTasks(await this.engine.tasksOf(service.ID));
    const going = current.filter((t) => asked.has(t.ID) || hasEnded(t));
    if (going.length === 0) return; // gone meanwhile
    await this.engine.scaleBy(role, -going.length);

    const deadline = Date.now() + 10_000;
    const wanted = new Set(going.map((t) => t.ID));
    for (;;) {
      const left = (await this.engine.tasksOf(service.ID)).filter((t) => wanted.has(t.ID));
      if (left.length === 0) return this.engine.waitForContainersGone([...wanted], deadline);
      if (Date.now() > deadline) {
        const kept = left.filter((t) => t.DesiredState !== 'remove');
        // Across nodes, swarmkit balances nodes before it prefers non-running slots.
        if (kept.length > 0) this.options.logger.warn({ kept: kept.map((t) => t.ID) }, 'Swarm removed other slots than the ones asked for; the workers it stopped drain on SIGTERM');
        return;
      }
      await sleep(100);
    }
  }
}
