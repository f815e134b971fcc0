import { setTimeout as sleep } from 'node:timers/promises';
import type Docker from 'dockerode';
import type { Logger } from '../log.js';
import { LABEL_POOL, removeEach, type Removal } from './docker.js';
import { DEFAULT_ENGINE_TIMEOUT_MS, engineCall } from './engine-timeout.js';
import type { SwarmEngine } from './swarm-engine.js';
import { currentTasks, exitInfoOf, hasEnded, type SwarmService, type SwarmTask } from './swarm-spec.js';
import type { ExitInfo } from './types.js';

/** Ending things: one worker's drain, the pool's empty services at close, and every service of a pool (shoal-cleanup). */

export interface DrainOptions {
  /** Sends the `drain` control message to one worker; resolves whether a worker was bound to receive it. */
  requestDrain: (workerId: string) => Promise<boolean>;
  logger: Logger;
  /** The drained task's end is reported here, not by the task poll. */
  markEnded: (taskId: string) => void;
}

/**
 * Asks the worker to drain (again while it is not yet listening), waits until
 * its task ends or the grace is over, and kills it then. Its slot stays until
 * the worker is removed.
 */
export async function drainTask(engine: SwarmEngine, found: SwarmTask, workerId: string, graceMs: number, options: DrainOptions): Promise<ExitInfo> {
  const deadline = Date.now() + graceMs;
  let task: SwarmTask | undefined = found;
  let asked = false;
  while (task && !hasEnded(task) && Date.now() < deadline) {
    // Not routed: the worker has not bound its control queue yet (still starting); ask again.
    if (!asked) asked = await options.requestDrain(workerId).catch(() => false);
    await sleep(asked ? 200 : 500);
    task = await engine.taskById(task.ID);
  }
  if (task && !hasEnded(task)) {
    options.logger.warn({ workerId, graceMs }, 'worker did not drain within the grace period; killing it');
    await engine.kill(task);
    task = await engine.waitForEnd(task.ID, 10_000);
  }
  const info = task ? exitInfoOf(workerId, task) : { workerId, exitCode: null, reason: 'exited' as const };
  if (task) options.markEnded(task.ID); // asked for: the poll need not report it
  return info;
}

/**
 * Removes the pool's services once no task of theirs is left (the pool drains
 * and removes every worker before this). A service that still has workers is
 * left for the next dispatcher to adopt.
 */
export async function removeEmptyServices(engine: SwarmEngine, logger: Logger): Promise<void> {
  const tasks = await engine.poolTasks();
  for (const service of await engine.services()) {
    const replicas = service.Spec.Mode?.Replicated?.Replicas ?? 0;
    const live = currentTasks(tasks.filter(({ task }) => task.ServiceID === service.ID).map(({ task }) => task));
    if (replicas > 0 || live.length > 0) {
      logger.warn({ service: service.Spec.Name, replicas, tasks: live.length }, 'leaving a service that still has workers');
      continue;
    }
    await engine.call(`remove service ${service.Spec.Name}`, (abortSignal) => engine.docker.getService(service.ID).remove({ abortSignal })).catch((err: { statusCode?: number }) => {
      if (err.statusCode !== 404) throw err;
    });
    logger.info({ service: service.Spec.Name }, 'removed the pool service');
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
