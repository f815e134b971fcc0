import { EventEmitter } from 'node:events';
import type Docker from 'dockerode';
import { ShoalError } from '../errors.js';
import { requireImage } from './docker.js';
import { DEFAULT_ENGINE_TIMEOUT_MS, engineCall } from './engine-timeout.js';
import { ReplicaBatches } from './swarm-batches.js';
import { drainTask, removeEmptyServices } from './swarm-cleanup.js';
import { SwarmEngine } from './swarm-engine.js';
import { SwarmServices } from './swarm-services.js';
import { currentTasks, handleOf, serviceNameProblem } from './swarm-spec.js';
import { TaskWatcher } from './swarm-tasks.js';
import type { SwarmRuntimeOptions } from './swarm-options.js';
import type { ExitInfo, WorkerHandle, WorkerRuntime, WorkerSpec } from './types.js';

export { removePoolServices } from './swarm-cleanup.js';

export type { SwarmRuntimeOptions } from './swarm-options.js';


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
 *
 * The parts: swarm-engine.ts (the pool's services and tasks on the engine),
 * swarm-services.ts (create, adopt, drift, secrets), swarm-batches.ts (replica
 * batches for starts and removes), swarm-tasks.ts (the task poll),
 * swarm-cleanup.ts (drain, and removing services); swarm-spec.ts is pure.
 */
export class SwarmRuntime implements WorkerRuntime {
  readonly kind = 'swarm' as const;
  private readonly events = new EventEmitter();
  private readonly engine: SwarmEngine;
  private readonly services: SwarmServices;
  private readonly batches: ReplicaBatches;
  private readonly tasks: TaskWatcher;

  constructor(private readonly options: SwarmRuntimeOptions) {
    const problem = serviceNameProblem(options.namespace);
    if (problem) throw new ShoalError('BAD_NAMESPACE', problem);
    this.engine = new SwarmEngine(options.docker, options.namespace, options.engineTimeoutMs ?? DEFAULT_ENGINE_TIMEOUT_MS, options.logger);
    this.services = new SwarmServices(this.engine, options);
    this.tasks = new TaskWatcher(this.engine, options.namespace, options.logger, (info) => this.events.emit('exit', info));
    this.batches = new ReplicaBatches(this.engine, {
      namespace: options.namespace,
      logger: options.logger,
      startTimeoutMs: options.startTimeoutMs ?? 60_000,
      prepare: async (role, env) => {
        await this.requireImage();
        return this.services.ensure(role, env);
      },
      markEnded: (taskId) => this.tasks.markEnded(taskId),
    });
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
    const present = await this.engine.call(`inspect image ${image}`, () => docker.getImage(image).inspect()).then(() => true, (err: { statusCode?: number }) => {
      if (err.statusCode === 404) return false;
      throw err;
    });
    if (present) return;
    logger.info({ image }, 'worker image not on this node; pulling it');
    try {
      // The pull's progress is a long-lived stream: only its start is bounded.
      const stream = await this.engine.call(`pull image ${image}`, (abortSignal) => docker.pull(image, { abortSignal }));
      await new Promise((resolve, reject) => docker.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve(undefined))));
    } catch (err) {
      // requireImage of the Docker runtime words the error (and names `npm run image`).
      await requireImage(docker, image, this.options.engineTimeoutMs).catch((missing: ShoalError) => {
        throw new ShoalError(missing.code, `${missing.message}, or push it to a registry every node can pull from (pulling it failed: ${(err as Error).message})`, { cause: err });
      });
    }
  }

  /** Starts watching task states; call before starting workers. Ends already there are not reported again. */
  watch(): Promise<void> {
    return this.tasks.watch(this.options.pollIntervalMs ?? 1000);
  }

  async list(): Promise<WorkerHandle[]> {
    const tasks = await this.engine.poolTasks();
    const roleOf = new Map(tasks.map(({ role, task }) => [task.ID, role]));
    return currentTasks(tasks.map(({ task }) => task)).map((task) => handleOf(this.options.namespace, roleOf.get(task.ID)!, task));
  }

  /** The spec's workerId is not used: Swarm names the task, and the handle carries that name. */
  start(spec: WorkerSpec): Promise<WorkerHandle> {
    return this.batches.start(spec.role, spec.env);
  }

  async drain(workerId: string, graceMs: number): Promise<ExitInfo> {
    const found = await this.engine.find(workerId);
    if (!found) throw new ShoalError('UNKNOWN_WORKER', `no task of pool ${this.options.namespace} for worker ${workerId}`);
    return drainTask(this.engine, found.task, workerId, graceMs, {
      requestDrain: this.options.requestDrain,
      logger: this.options.logger,
      markEnded: (taskId) => this.tasks.markEnded(taskId),
    });
  }

  async remove(workerId: string): Promise<void> {
    const found = await this.engine.find(workerId);
    if (!found) return; // already gone
    await this.batches.remove(found.role, found.task.ID);
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
  private closeOnce: Promise<void> | undefined;

  /** Same promise on every call. */
  close(): Promise<void> {
    this.closeOnce ??= (async () => {
      this.tasks.stop();
      this.events.removeAllListeners();
      await this.batches.settled();
      await this.tasks.idle();
      await removeEmptyServices(this.engine, this.options.logger);
    })();
    return this.closeOnce;
  }
}
