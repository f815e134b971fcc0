import { createRedis } from '../infra/redis.js';
import { WorkerReporter } from './reporter.js';
import { Worker, type WorkerOptions, type WorkerStats } from './worker.js';

export interface HostedWorkerOptions extends WorkerOptions {
  /** Where the worker reports its counters for the dispatcher (Redis, under its pool's namespace); none when undefined. */
  reports: { redisUrl: string; namespace: string; intervalMs: number } | undefined;
}

/**
 * A worker and its reporter, started and stopped together: what the worker
 * process (worker/main.ts) and an application's `runWorker()` both run.
 * `closed` resolves once the worker has drained and its report is withdrawn,
 * whatever asked it to stop (close(), a signal, a drain or quit message).
 */
export class HostedWorker {
  private readonly worker: Worker;
  private readonly reporter: WorkerReporter | undefined;
  /** Resolves with the reason it stopped: "close", "SIGTERM", "drain", "quit", ... */
  readonly closed: Promise<string>;

  constructor(options: HostedWorkerOptions) {
    const { reports, ...workerOptions } = options;
    const worker = new Worker(workerOptions);
    this.worker = worker;
    this.reporter = reports
      ? new WorkerReporter(createRedis(reports.redisUrl, `shoal worker ${options.workerId}`, options.logger), reports.namespace,
          options.workerId, () => worker.stats(), reports.intervalMs)
      : undefined;
    this.closed = new Promise((resolve) => {
      worker.once('closed', (reason: string) => void (this.reporter?.close() ?? Promise.resolve()).finally(() => resolve(reason)));
    });
  }

  get id(): string {
    return this.worker.id;
  }

  get draining(): boolean {
    return this.worker.draining;
  }

  stats(): WorkerStats {
    return this.worker.stats();
  }

  /**
   * Connects and consumes, then starts reporting. A close() while it starts
   * cancels the start (see Worker.start): it then never reports.
   */
  async start(): Promise<void> {
    try {
      await this.worker.start();
    } catch (err) {
      await this.reporter?.close();
      throw err;
    }
    if (!this.worker.draining) this.reporter?.start();
  }

  /** Stops taking work, finishes what it holds, disconnects and withdraws its report. Safe to call again. */
  async close(reason = 'close'): Promise<void> {
    await this.worker.close(reason);
    await this.closed;
  }
}
