import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type Docker from 'dockerode';
import { ShoalError } from '../errors.js';
import { LABEL_POOL, LABEL_ROLE, removeEach, requireImage, type ContainerRuntimeOptions, type Removal } from './docker.js';
import { DEFAULT_ENGINE_TIMEOUT_MS, engineCall } from './engine-timeout.js';
import type { SecretUrlVariable } from '../config.js';
import { currentTasks, exitInfoOf, handleOf, hasEnded, serviceName, serviceNameProblem, serviceSpec, taskTemplateDrift, type SecretRef, type SwarmService, type SwarmTask } from './swarm-spec.js';
import type { ExitInfo, WorkerHandle, WorkerRole, WorkerRuntime, WorkerSpec } from './types.js';

export interface SwarmRuntimeOptions extends ContainerRuntimeOptions {
  /** Sends the `drain` control message to one worker; resolves whether a worker was bound to receive it. */
  requestDrain: (workerId: string) => Promise<boolean>;
  /** How often task states are read to notice exits (default 1 s). */
  pollIntervalMs?: number;
  /** How long a new task may take to run before its start counts as failed (default 60 s: a node may pull the image). */
  startTimeoutMs?: number;
  /** Name of a Swarm secret with the broker URL; workers then read it from a file instead of SHOAL_AMQP_URL. */
  amqpUrlSecret?: string;
  /** Name of a Swarm secret with the Redis URL; workers then read it from a file instead of SHOAL_REDIS_URL. */
  redisUrlSecret?: string;
}

interface PendingStart {
  env: Record<string, string>;
  resolve: (handle: WorkerHandle) => void;
  reject: (err: unknown) => void;
}

interface PendingRemove {
  taskId: string;
  workerId: string;
  done: { resolve: () => void; reject: (err: unknown) => void };
}

interface PoolTask {
  role: WorkerRole;
  task: SwarmTask;
}

const ROLES: readonly WorkerRole[] = ['worker', 'spare'];
/** The label Swarm puts on a task's container. */
const SWARM_TASK_ID_LABEL = 'com.docker.swarm.task.id';

/**
 * Workers as the tasks of two replicated Swarm services, `<ns>-worker` and
 * `<ns>-spare` (warm spares, consuming at a low consumer priority). Starting
 * a worker raises the replica count and hands back the task that Swarm
 * created; its worker id comes from the task itself (see swarm-spec.ts).
 *
 * Swarm picks which task goes when the replica count drops, so a worker is
 * retired in this order: the `drain` control message makes that worker finish
 * and ack what it holds and exit 0; its task stays completed (restart policy
 * none); then the count is lowered, and swarmkit's replicated orchestrator
 * removes non-running slots before running ones (on one node always; across
 * nodes it balances nodes first, see infra/swarm/README.md). Should Swarm stop
 * another task instead, that worker gets SIGTERM and drains too: no request is
 * lost either way.
 *
 * Exits are seen by reading task states every second: the Engine's event
 * stream has no task events, and container events exist only on their node.
 * Every lookup goes through the pool label on the services.
 */
export class SwarmRuntime implements WorkerRuntime {
  readonly kind = 'swarm' as const;
  private readonly events = new EventEmitter();
  private readonly chains: Record<WorkerRole, Promise<void>> = { worker: Promise.resolve(), spare: Promise.resolve() };
  private readonly pendingStarts: Record<WorkerRole, PendingStart[]> = { worker: [], spare: [] };
  private readonly pendingRemoves: Record<WorkerRole, PendingRemove[]> = { worker: [], spare: [] };
  /** Tasks whose end was reported (or was already there when watching began). */
  private readonly ended = new Set<string>();
  private pollTimer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private closed = false;
  /** Roles whose service has this dispatcher's task template (created or updated by it). */
  private readonly specChecked = new Set<WorkerRole>();
  /** Roles whose differing settings were already warned about. */
  private readonly driftWarned = new Set<WorkerRole>();

  constructor(private readonly options: SwarmRuntimeOptions) {
    const problem = serviceNameProblem(options.namespace);
    if (problem) throw new ShoalError('BAD_NAMESPACE', problem);
  }

  /** One engine call, bounded (see engine-timeout.ts). */
  private engine<T>(call: string, run: (abortSignal: AbortSignal) => Promise<T>): Promise<T> {
    return engineCall(call, this.options.engineTimeoutMs ?? DEFAULT_ENGINE_TIMEOUT_MS, run);
  }

  /** Refuses an engine that is not a swarm manager, with the command that makes it one. */
  static async requireManager(docker: Docker, timeoutMs = DEFAULT_ENGINE_TIMEOUT_MS): Promise<void> {
    // dockerode's typings offer info() no options: no abort signal, but the timeout still ends the wait.
    const info = (await engineCall('info', timeoutMs, () => docker.info())) as { Swarm?: { LocalNodeState?: string; ControlAvailable?: boolean } };
    if (info.Swarm?.ControlAvailable) return;
    const state = info.Swarm?.LocalNodeState || 'inactive';
    const what = state === 'active' ? 'a worker node of a swarm, not a manager' : `swarm state: ${state}`;
    throw new ShoalError(
      'SWARM_UNAVAILABLE',
      `--runtime swarm needs a Docker engine that is a swarm manager (this one: ${what}). ` +
        'Run `docker swarm init --advertise-addr 127.0.0.1` (npm run setup does), or run the dispatcher on a manager (or point DOCKER_HOST at one).',
    );
  }

  /**
   * The worker image must be on this node or pullable: on one machine it is
   * built here (`npm run image`); on a cluster every node pulls it from a
   * registry, and so does this one now.
   */
  async requireImage(): Promise<void> {
    const { docker, image, logger } = this.options;
    // dockerode's image inspect takes no abort signal: the timeout still ends the wait.
    const present = await this.engine(`inspect image ${image}`, () => docker.getImage(image).inspect()).then(() => true, (err: { statusCode?: number }) => {
      if (err.statusCode === 404) return false;
      throw err;
    });
    if (present) return;
    logger.info({ image }, 'worker image not on this node; pulling it');
    try {
      // The pull's progress is a long-lived stream: only its start is bounded.
      const stream = await this.engine(`pull image ${image}`, (abortSignal) => docker.pull(image, { abortSignal }));
      await new Promise((resolve, reject) => docker.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve(undefined))));
    } catch (err) {
      // requireImage of the Docker runtime words the error (and names `npm run image`).
      await requireImage(docker, image, this.options.engineTimeoutMs).catch((missing: ShoalError) => {
        throw new ShoalError(missing.code, `${missing.message}, or push it to a registry every node can pull from (pulling it failed: ${(err as Error).message})`, { cause: err });
      });
    }
  }

  /** Starts watching task states; call before starting workers. Ends already there are not reported again. */
  async watch(): Promise<void> {
    for (const { task } of await this.poolTasks()) if (hasEnded(task)) this.ended.add(task.ID);
    this.pollTimer = setInterval(() => void this.poll(), this.options.pollIntervalMs ?? 1000);
    this.pollTimer.unref();
  }

  /** One pass over the pool's tasks: each task that has ended is reported once. */
  private poll(): Promise<void> {
    this.polling ??= (async () => {
      try {
        const tasks = await this.poolTasks();
        const seen = new Set(tasks.map(({ task }) => task.ID));
        for (const id of this.ended) if (!seen.has(id)) this.ended.delete(id); // reaped: forget it
        for (const { role, task } of tasks) {
          if (!hasEnded(task) || this.ended.has(task.ID)) continue;
          this.ended.add(task.ID);
          this.events.emit('exit', exitInfoOf(handleOf(this.options.namespace, role, task).workerId, task));
        }
      } catch (err) {
        if (!this.closed) this.options.logger.warn({ err: (err as Error).message }, 'cannot read Swarm task states; retrying');
      } finally {
        this.polling = undefined;
      }
    })();
    return this.polling;
  }

  async list(): Promise<WorkerHandle[]> {
    const tasks = await this.poolTasks();
    const roleOf = new Map(tasks.map(({ role, task }) => [task.ID, role]));
    return currentTasks(tasks.map(({ task }) => task)).map((task) => handleOf(this.options.namespace, roleOf.get(task.ID)!, task));
  }

  /** The spec's workerId is not used: Swarm names the task, and the handle carries that name. */
  start(spec: WorkerSpec): Promise<WorkerHandle> {
    return new Promise((resolve, reject) => {
      this.pendingStarts[spec.role].push({ env: spec.env, resolve, reject });
      this.enqueue(spec.role);
    });
  }

  async drain(workerId: string, graceMs: number): Promise<ExitInfo> {
    const found = await this.find(workerId);
    if (!found) throw new ShoalError('UNKNOWN_WORKER', `no task of pool ${this.options.namespace} for worker ${workerId}`);
    const deadline = Date.now() + graceMs;
    let task: SwarmTask | undefined = found.task;
    let asked = false;
    while (task && !hasEnded(task) && Date.now() < deadline) {
      // Not routed: the worker has not bound its control queue yet (still starting); ask again.
      if (!asked) asked = await this.options.requestDrain(workerId).catch(() => false);
      await sleep(asked ? 200 : 500);
      task = await this.taskById(task.ID);
    }
    if (task && !hasEnded(task)) {
      this.options.logger.warn({ workerId, graceMs }, 'worker did not drain within the grace period; killing it');
      await this.kill(task);
      task = await this.waitForEnd(task.ID, 10_000);
    }
    const info = task ? exitInfoOf(workerId, task) : { workerId, exitCode: null, reason: 'exited' as const };
    if (task) this.ended.add(task.ID); // asked for: the poll need not report it
    return info;
  }

  async remove(workerId: string): Promise<void> {
    const found = await this.find(workerId);
    if (!found) return; // already gone
    await new Promise<void>((resolve, reject) => {
      this.pendingRemoves[found.role].push({ taskId: found.task.ID, workerId, done: { resolve, reject } });
      this.enqueue(found.role);
    });
  }

  onExit(listener: (info: ExitInfo) => void): () => void {
    this.events.on('exit', listener);
    return () => this.events.off('exit', listener);
  }

  /**
   * Stops watching, and removes the pool's services once no task of theirs is
   * left (the pool drains and removes every worker before this). A service
   * that still has workers is left for the next dispatcher to adopt.
   */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.pollTimer);
    this.events.removeAllListeners();
    await Promise.allSettled(ROLES.map((role) => this.chains[role]));
    await this.polling;
    const tasks = await this.poolTasks();
    for (const service of await this.services()) {
      const replicas = service.Spec.Mode?.Replicated?.Replicas ?? 0;
      const live = currentTasks(tasks.filter(({ task }) => task.ServiceID === service.ID).map(({ task }) => task));
      if (replicas > 0 || live.length > 0) {
        this.options.logger.warn({ service: service.Spec.Name, replicas, tasks: live.length }, 'leaving a service that still has workers');
        continue;
      }
      await this.engine(`remove service ${service.Spec.Name}`, (abortSignal) => this.options.docker.getService(service.ID).remove({ abortSignal })).catch((err: { statusCode?: number }) => {
        if (err.statusCode !== 404) throw err;
      });
      this.options.logger.info({ service: service.Spec.Name }, 'removed the pool service');
    }
  }

  // ---- batches ---------------------------------------------------------------

  /** Service updates of one role run one batch at a time: each batch reads the replica count it changes. */
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
    try {
      await this.requireImage();
      const service = await this.ensureService(role, batch[0]!.env);
      const before = new Set((await this.tasksOf(service.ID)).map((t) => t.ID));
      await this.scaleBy(role, batch.length);
      const fresh = await this.waitForNewTasks(service.ID, before, batch.length);
      const running = fresh.filter((t) => t.Status.State === 'running');
      const failed = batch.length - running.length;
      if (failed > 0) {
        const why = fresh.find((t) => t.Status.State !== 'running')?.Status.Err ?? 'not running in time';
        this.options.logger.error({ role, failed, why }, 'worker tasks did not start; lowering the replica count again');
        // Slots not even created count too: lowering by the ones that exist, and by the missing ones.
        const notRunning = fresh.filter((t) => t.Status.State !== 'running').map((t) => t.ID);
        await this.removeBatch(role, notRunning);
        const missing = batch.length - fresh.length;
        if (missing > 0) await this.scaleBy(role, -missing);
      }
      batch.forEach((pending, i) => {
        const task = running[i];
        if (task) pending.resolve(handleOf(this.options.namespace, role, task));
        else pending.reject(new ShoalError('START_FAILED', `a ${role} task of service ${serviceName(this.options.namespace, role)} did not start`));
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
    const service = await this.service(role);
    if (!service) return;
    const asked = new Set(taskIds);
    for (const task of currentTasks(await this.tasksOf(service.ID))) {
      if (!asked.has(task.ID) || hasEnded(task)) continue;
      await this.kill(task);
      this.ended.add(task.ID);
    }
    await Promise.all([...asked].map((id) => this.waitForEnd(id, 5_000)));
    const current = currentTasks(await this.tasksOf(service.ID));
    const going = current.filter((t) => asked.has(t.ID) || hasEnded(t));
    if (going.length === 0) return; // gone meanwhile
    await this.scaleBy(role, -going.length);

    const deadline = Date.now() + 10_000;
    const wanted = new Set(going.map((t) => t.ID));
    for (;;) {
      const left = (await this.tasksOf(service.ID)).filter((t) => wanted.has(t.ID));
      if (left.length === 0) return this.waitForContainersGone([...wanted], deadline);
      if (Date.now() > deadline) {
        const kept = left.filter((t) => t.DesiredState !== 'remove');
        // Across nodes, swarmkit balances nodes before it prefers non-running slots.
        if (kept.length > 0) this.options.logger.warn({ kept: kept.map((t) => t.ID) }, 'Swarm removed other slots than the ones asked for; the workers it stopped drain on SIGTERM');
        return;
      }
      await sleep(100);
    }
  }

  // ---- Engine calls ----------------------------------------------------------------

  /** The pool's services, found by the pool label only; by role. */
  private async services(): Promise<SwarmService[]> {
    const services = (await this.engine('listServices', (abortSignal) =>
      this.options.docker.listServices({ filters: { label: [`${LABEL_POOL}=${this.options.namespace}`] }, abortSignal }),
    )) as unknown as SwarmService[];
    return services.filter((s) => ROLES.some((role) => s.Spec.Name === serviceName(this.options.namespace, role) && s.Spec.Labels?.[LABEL_ROLE] === role));
  }

  private async service(role: WorkerRole): Promise<SwarmService | undefined> {
    return (await this.services()).find((s) => s.Spec.Name === serviceName(this.options.namespace, role));
  }

  /**
   * The role's service, created with this dispatcher's settings; an existing
   * one (left by an earlier dispatcher) is brought to them first.
   */
  private async ensureService(role: WorkerRole, env: Record<string, string>): Promise<SwarmService> {
    const existing = await this.service(role);
    if (existing && this.specChecked.has(role)) return existing;
    const { docker, namespace } = this.options;
    const amqpUrlSecret = this.options.amqpUrlSecret ? await this.secret(this.options.amqpUrlSecret, 'SHOAL_AMQP_URL') : undefined;
    const redisUrlSecret = this.options.redisUrlSecret ? await this.secret(this.options.redisUrlSecret, 'SHOAL_REDIS_URL') : undefined;
    const spec = serviceSpec({ ...this.options, role, env, amqpUrlSecret, redisUrlSecret });
    if (existing) return this.adoptService(role, existing, spec);
    await this.engine(`createService ${serviceName(namespace, role)}`, (abortSignal) => docker.createService({ ...spec, abortSignal } as Docker.CreateServiceOptions)).catch((err: { statusCode?: number; message?: string }) => {
      if (err.statusCode === 409) {
        throw new ShoalError('NAME_TAKEN', `a service named ${serviceName(namespace, role)} exists but is not labelled ${LABEL_POOL}=${namespace}; shoal leaves it alone. Use another --namespace.`, { cause: err });
      }
      throw err;
    });
    this.options.logger.info({ service: serviceName(namespace, role), image: this.options.image }, 'created the pool service');
    const created = await this.service(role);
    if (!created) throw new ShoalError('START_FAILED', `service ${serviceName(namespace, role)} vanished after it was created`);
    this.specChecked.add(role);
    return created;
  }

  /**
   * A service an earlier dispatcher created may have other settings (image,
   * concurrency, transport, limits, secrets). Its task template is updated
   * when no task of it runs. While some run it is left as it is: Swarm would
   * replace running tasks in a rolling update, behind the pool's back; the
   * new settings then apply once those workers are gone.
   */
  private async adoptService(role: WorkerRole, existing: SwarmService, desired: Record<string, unknown>): Promise<SwarmService> {
    const drift = taskTemplateDrift(existing.Spec, desired);
    const service = existing.Spec.Name;
    if (drift.length === 0) {
      this.specChecked.add(role);
      return existing;
    }
    const running = currentTasks(await this.tasksOf(existing.ID)).filter((t) => !hasEnded(t));
    if (running.length > 0) {
      if (!this.driftWarned.has(role)) {
        this.driftWarned.add(role);
        this.options.logger.warn(
          { service, drift, running: running.length },
          'the existing service has other settings than this dispatcher; new workers keep the old ones until its running workers are gone (or run shoal-cleanup first)',
        );
      }
      return existing;
    }
    await this.updateSpec(role, (spec) => ({ ...spec, TaskTemplate: desired.TaskTemplate }));
    this.options.logger.info({ service, drift }, 'updated the existing pool service to this dispatcher\'s settings');
    this.specChecked.add(role);
    const updated = await this.service(role);
    if (!updated) throw new ShoalError('UNKNOWN_SERVICE', `service ${service} is gone`);
    return updated;
  }

  private async secret(name: string, variable: SecretUrlVariable): Promise<SecretRef> {
    // The name filter matches by prefix: take the exact name.
    const found = ((await this.engine('listSecrets', (abortSignal) => this.options.docker.listSecrets({ filters: { name: [name] }, abortSignal }))) as unknown as { ID: string; Spec: { Name: string } }[]).find((s) => s.Spec.Name === name);
    if (!found) {
      throw new ShoalError('SECRET_MISSING', `Swarm secret ${name} not found; create it with: printf '%s' "$${variable}" | docker secret create ${name} -`);
    }
    return { id: found.ID, name };
  }

  /** Changes a service's replica count. */
  private scaleBy(role: WorkerRole, delta: number): Promise<void> {
    return this.updateSpec(role, (spec) => ({ ...spec, Mode: { Replicated: { Replicas: Math.max(0, (spec.Mode?.Replicated?.Replicas ?? 0) + delta) } } }));
  }

  /** Updates a service's spec; retries when another update came in between (optimistic concurrency). */
  private async updateSpec(role: WorkerRole, change: (spec: SwarmService['Spec']) => Record<string, unknown>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const service = await this.service(role);
      if (!service) throw new ShoalError('UNKNOWN_SERVICE', `service ${serviceName(this.options.namespace, role)} is gone`);
      try {
        await this.engine(`update service ${service.Spec.Name}`, (abortSignal) => this.options.docker.getService(service.ID).update({
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

  private async poolTasks(): Promise<PoolTask[]> {
    const services = await this.services();
    if (services.length === 0) return [];
    const roleOf = new Map(services.map((s) => [s.ID, s.Spec.Labels![LABEL_ROLE] as WorkerRole]));
    const tasks = (await this.engine('listTasks', (abortSignal) => this.options.docker.listTasks({ filters: { service: services.map((s) => s.ID) }, abortSignal }))) as SwarmTask[];
    return tasks.filter((t) => roleOf.has(t.ServiceID)).map((task) => ({ role: roleOf.get(task.ServiceID)!, task }));
  }

  private async tasksOf(serviceId: string): Promise<SwarmTask[]> {
    return (await this.engine('listTasks', (abortSignal) => this.options.docker.listTasks({ filters: { service: [serviceId] }, abortSignal }))) as SwarmTask[];
  }

  private async taskById(id: string): Promise<SwarmTask | undefined> {
    const [task] = (await this.engine(`listTasks for task ${id}`, (abortSignal) => this.options.docker.listTasks({ filters: { id: [id] }, abortSignal }))) as SwarmTask[];
    return task?.ID === id ? task : undefined;
  }

  /** The current task of a worker of this pool (a promoted spare's still lives in the spare service). */
  private async find(workerId: string): Promise<PoolTask | undefined> {
    const tasks = await this.poolTasks();
    const current = new Set(currentTasks(tasks.map(({ task }) => task)).map((t) => t.ID));
    return tasks.find(({ role, task }) => current.has(task.ID) && handleOf(this.options.namespace, role, task).workerId === workerId);
  }

  /** Waits until `count` tasks that were not there before want to run, and each runs or has ended. */
  private async waitForNewTasks(serviceId: string, before: Set<string>, count: number): Promise<SwarmTask[]> {
    const deadline = Date.now() + (this.options.startTimeoutMs ?? 60_000);
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
  private async waitForContainersGone(taskIds: string[], deadline: number): Promise<void> {
    const filters = { label: taskIds.map((id) => `${SWARM_TASK_ID_LABEL}=${id}`) };
    for (;;) {
      // Labels in one filter are ANDed, so ask per task.
      const counts = await Promise.all(filters.label.map((label) => this.engine('listContainers', (abortSignal) => this.options.docker.listContainers({ all: true, filters: { label: [label] }, abortSignal }))));
      if (counts.every((c) => c.length === 0) || Date.now() > deadline) return;
      await sleep(100);
    }
  }

  private async waitForEnd(taskId: string, timeoutMs: number): Promise<SwarmTask | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const task = await this.taskById(taskId);
      if (!task || hasEnded(task) || Date.now() > deadline) return task;
      await sleep(100);
    }
  }

  /**
   * SIGKILLs a task's container when it runs on this node. Swarm has no call
   * to stop one task; on another node, the task stops when its slot goes
   * (SIGTERM, then SIGKILL after the stop grace period).
   */
  private async kill(task: SwarmTask): Promise<void> {
    const containerId = task.Status.ContainerStatus?.ContainerID;
    if (!containerId) return;
    await this.engine(`kill container of task ${task.ID}`, (abortSignal) => this.options.docker.getContainer(containerId).kill({ abortSignal })).catch((err: { statusCode?: number }) => {
      if (err.statusCode === 404) this.options.logger.warn({ taskId: task.ID, node: task.NodeID }, 'task runs on another node; Swarm stops it when its slot goes');
      else if (err.statusCode !== 409) throw err; // 409: not running any more
    });
  }
}

/**
 * Removes every service of one pool (label org.shoal.pool=<namespace>), and
 * nothing else; their tasks and containers go with them. Tries each service
 * and says which it removed (one already gone, 404, is not counted) and which
 * it could not; nothing removed when the engine is not a swarm manager.
 */
export async function removePoolServices(docker: Docker, namespace: string, timeoutMs = DEFAULT_ENGINE_TIMEOUT_MS): Promise<Removal> {
  const services = (await engineCall('listServices', timeoutMs, (abortSignal) => docker.listServices({ filters: { label: [`${LABEL_POOL}=${namespace}`] }, abortSignal })).catch((err: { statusCode?: number }) => {
    if (err.statusCode === 503) return []; // not a swarm manager: there are no services
    throw err;
  })) as unknown as SwarmService[];
  const remove = (s: SwarmService) => engineCall(`remove service ${s.Spec.Name}`, timeoutMs, (abortSignal) => docker.getService(s.ID).remove({ abortSignal }));
  return removeEach(services.map((s) => ({ name: s.Spec.Name, remove: () => remove(s) })), [404]);
}
