import type { Logger } from '../log.js';
import type { SwarmEngine } from './swarm-engine.js';
import { exitInfoOf, handleOf, hasEnded } from './swarm-spec.js';
import type { ExitInfo } from './types.js';

/**
 * Notices workers that exit on their own by reading the pool's task states
 * every interval: the Engine's event stream has no task events, and container
 * events exist only on their node. Each ended task is reported once.
 */
export class TaskWatcher {
  /** Tasks whose end was reported (or was already there when watching began, or was asked for). */
  private readonly ended = new Set<string>();
  private pollTimer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly engine: SwarmEngine,
    private readonly namespace: string,
    private readonly logger: Logger,
    private readonly onEnd: (info: ExitInfo) => void,
  ) {}

  /** Starts polling. Ends already there are not reported again. */
  async watch(intervalMs: number): Promise<void> {
    for (const { task } of await this.engine.poolTasks()) if (hasEnded(task)) this.ended.add(task.ID);
    this.pollTimer = setInterval(() => void this.poll(), intervalMs);
    this.pollTimer.unref();
  }

  /** A task this runtime ended itself (drained, or killed for a remove): not reported. */
  markEnded(taskId: string): void {
    this.ended.add(taskId);
  }

  stop(): void {
    this.closed = true;
    clearInterval(this.pollTimer);
  }

  /** Resolves when no poll is under way. */
  async idle(): Promise<void> {
    await this.polling;
  }

  /** One pass over the pool's tasks: each task that has ended is reported once. */
  private poll(): Promise<void> {
    this.polling ??= (async () => {
      try {
        const tasks = await this.engine.poolTasks();
        const seen = new Set(tasks.map(({ task }) => task.ID));
        for (const id of this.ended) if (!seen.has(id)) this.ended.delete(id); // reaped: forget it
        for (const { role, task } of tasks) {
          if (!hasEnded(task) || this.ended.has(task.ID)) continue;
          this.ended.add(task.ID);
          this.onEnd(exitInfoOf(handleOf(this.namespace, role, task).workerId, task));
        }
      } catch (err) {
        if (!this.closed) this.logger.warn({ err: (err as Error).message }, 'cannot read Swarm task states; retrying');
      } finally {
        this.polling = undefined;
      }
    })();
    return this.polling;
  }
}
