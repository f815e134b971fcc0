import { setTimeout as sleep } from 'node:timers/promises';
import type Docker from 'dockerode';
import { ShoalError } from '../errors.js';
import type { Logger } from '../log.js';
import { LABEL_POOL, LABEL_ROLE } from './docker.js';
import { engineCall } from './engine-timeout.js';
import { currentTasks, handleOf, hasEnded, serviceName, type SwarmService, type SwarmTask } from './swarm-spec.js';
import type { WorkerRole } from './types.js';

export const ROLES: readonly WorkerRole[] = ['worker', 'spare'];
/** The label Swarm puts on a task's container. */
const SWARM_TASK_ID_LABEL = 'com.docker.swarm.task.id';

export interface PoolTask {
  role: WorkerRole;
  task: SwarmTask;
}

/**
 * One pool's services and tasks on the engine: every lookup goes through the
 * pool label on the services, and every call is bounded (engine-timeout.ts).
 * No decisions here: reads, one service update, a kill, and waits for a state.
 */
export class SwarmEngine {
  constructor(
    readonly docker: Docker,
    private readonly namespace: string,
    private readonly timeoutMs: number,
    private readonly logger: Logger,
  ) {}

  /** One engine call, bounded (see engine-timeout.ts). */
  call<T>(call: string, run: (abortSignal: AbortSignal) => Promise<T>): Promise<T> {
    return engineCall(call, this.timeoutMs, run);
  }

  /** The pool's services, found by the pool label only; by role. */
  async services(): Promise<SwarmService[]> {
    const services = (await this.call('listServices', (abortSignal) =>
      this.docker.listServices({ filters: { label: [`${LABEL_POOL}=${this.namespace}`] }, abortSignal }),
    )) as unknown as SwarmService[];
    return services.filter((s) => ROLES.some((role) => s.Spec.Name === serviceName(this.namespace, role) && s.Spec.Labels?.[LABEL_ROLE] === role));
  }

  async service(role: WorkerRole): Promise<SwarmService | undefined> {
    return (await this.services()).find((s) => s.Spec.Name === serviceName(this.namespace, role));
  }

  async poolTasks(): Promise<PoolTask[]> {
    const services = await this.services();
    if (services.length === 0) return [];
    const roleOf = new Map(services.map((s) => [s.ID, s.Spec.Labels![LABEL_ROLE] as WorkerRole]));
    const tasks = (await this.call('listTasks', (abortSignal) => this.docker.listTasks({ filters: { service: services.map((s) => s.ID) }, abortSignal }))) as SwarmTask[];
    return tasks.filter((t) => roleOf.has(t.ServiceID)).map((task) => ({ role: roleOf.get(task.ServiceID)!, task }));
  }

  async tasksOf(serviceId: string): Promise<SwarmTask[]> {
    return (await this.call('listTasks', (abortSignal) => this.docker.listTasks({ filters: { service: [serviceId] }, abortSignal }))) as SwarmTask[];
  }

  async taskById(id: string): Promise<SwarmTask | undefined> {
    const [task] = (await this.call(`listTasks for task ${id}`, (abortSignal) => this.docker.listTasks({ filters: { id: [id] }, abortSignal }))) as SwarmTask[];
    return task?.ID === id ? task : undefined;
  }

  /** The current task of a worker of this pool (a promoted spare's still lives in the spare service). */
  async find(workerId: string): Promise<PoolTask | undefined> {
    const tasks = await this.poolTasks();
    const current = new Set(currentTasks(tasks.map(({ task }) => task)).map((t) => t.ID));
    return tasks.find(({ role, task }) => current.has(task.ID) && handleOf(this.namespace, role, task).workerId === workerId);
  }

  /** Changes a service's replica count. */
  scaleBy(role: WorkerRole, delta: number): Promise<void> {
    return this.updateSpec(role, (spec) => ({ ...spec, Mode: { Replicated: { Replicas: Math.max(0, (spec.Mode?.Replicated?.Replicas ?? 0) + delta) } } }));
  }

  /** Updates a service's spec; retries when another update came in between (optimistic concurrency). */
  async updateSpec(role: WorkerRole, change: (spec: SwarmService['Spec']) => Record<string, unknown>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const service = await this.service(role);
      if (!service) throw new ShoalError('UNKNOWN_SERVICE', `service ${serviceName(this.namespace, role)} is gone`);
      try {
        await this.call(`update service ${service.Spec.Name}`, (abortSignal) => this.docker.getService(service.ID).update({
          _query: { version: service.Version.Index },
          _body: change(service.Spec),
          abortSignal,
        } as unknown as Record<string, unknown>));
        return;
      } catch (err) {
        if (attempt >= 5 || !/out of sequence/i.test((err as Error).message)) throw err;
      }
    }
  }

  /**
   * SIGKILLs a task's container when it runs on this node. Swarm has no call
   * to stop one task; on another node, the task stops when its slot goes
   * (SIGTERM, then SIGKILL after the stop grace period).
   */
  async kill(task: SwarmTask): Promise<void> {
    const containerId = task.Status.ContainerStatus?.ContainerID;
    if (!containerId) return;
    await this.call(`kill container of task ${task.ID}`, (abortSignal) => this.docker.getContainer(containerId).kill({ abortSignal })).catch((err: { statusCode?: number }) => {
      if (err.statusCode === 404) this.logger.warn({ taskId: task.ID, node: task.NodeID }, 'task runs on another node; Swarm stops it when its slot goes');
      else if (err.statusCode !== 409) throw err; // 409: not running any more
    });
  }

  /** Waits until `count` tasks that were not there before want to run, and each runs or has ended. */
  async waitForNewTasks(serviceId: string, before: Set<string>, count: number, timeoutMs: number): Promise<SwarmTask[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const fresh = (await this.tasksOf(serviceId)).filter((t) => !before.has(t.ID) && t.DesiredState !== 'remove');
      const settled = fresh.every((t) => t.Status.State === 'running' || hasEnded(t));
      if ((fresh.length >= count && settled) || Date.now() > deadline) {
        return fresh.sort((a, b) => (a.Slot ?? 0) - (b.Slot ?? 0)).slice(0, count);
      }
      await sleep(100);
    }
  }

  /** The agent removes a task's container after the task is deleted; on this node, wait for that too. */
  async waitForContainersGone(taskIds: string[], deadline: number): Promise<void> {
    const filters = { label: taskIds.map((id) => `${SWARM_TASK_ID_LABEL}=${id}`) };
    for (;;) {
      // Labels in one filter are ANDed, so ask per task.
      const counts = await Promise.all(filters.label.map((label) => this.call('listContainers', (abortSignal) => this.docker.listContainers({ all: true, filters: { label: [label] }, abortSignal }))));
      if (counts.every((c) => c.length === 0) || Date.now() > deadline) return;
      await sleep(100);
    }
  }

  async waitForEnd(taskId: string, timeoutMs: number): Promise<SwarmTask | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const task = await this.taskById(taskId);
      if (!task || hasEnded(task) || Date.now() > deadline) return task;
      await sleep(100);
    }
  }
}
