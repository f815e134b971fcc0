import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { ShoalError } from '../errors.js';
import type { ExitInfo, WorkerHandle, WorkerRuntime, WorkerSpec } from './types.js';

// The compiled worker next to this module; from the TypeScript source (tests), the one in dist/.
const DEFAULT_WORKER_ENTRY = fileURLToPath(
  new URL(import.meta.url.endsWith('.ts') ? '../../dist/worker/main.js' : '../../worker/main.js', import.meta.url),
);

interface Entry {
  handle: WorkerHandle;
  child: ChildProcess;
  exited: Promise<ExitInfo>;
}

export interface ProcessRuntimeOptions {
  /** Compiled worker entry point; defaults to dist/worker/main.js. */
  workerEntry?: string;
  /** Where the workers' stdout and stderr go. */
  stdio?: 'inherit' | 'ignore';
}

/**
 * Workers as local child processes: for development, CI and machines without
 * Docker. Each child is told to exit by itself if the dispatcher dies
 * (SHOAL_EXIT_WITH_PARENT), so a crashed dispatcher leaves nothing running.
 */
export class ProcessRuntime implements WorkerRuntime {
  readonly kind = 'process' as const;
  private readonly workers = new Map<string, Entry>();
  private readonly events = new EventEmitter();

  constructor(private readonly options: ProcessRuntimeOptions = {}) {}

  async list(): Promise<WorkerHandle[]> {
    return [...this.workers.values()].map((entry) => ({ ...entry.handle }));
  }

  async start(spec: WorkerSpec): Promise<WorkerHandle> {
    if (this.workers.has(spec.workerId)) throw new ShoalError('DUPLICATE_WORKER', `worker ${spec.workerId} already exists`);
    const stdio = this.options.stdio ?? 'inherit';
    const child = spawn(process.execPath, [this.options.workerEntry ?? DEFAULT_WORKER_ENTRY], {
      env: { ...process.env, ...spec.env, SHOAL_WORKER_ID: spec.workerId, SHOAL_ROLE: spec.role, SHOAL_EXIT_WITH_PARENT: '1' },
      stdio: ['ignore', stdio, stdio],
      // Its own process group: a Ctrl-C in the dispatcher's terminal reaches
      // the dispatcher alone, which then drains each worker with one SIGTERM.
      // Sharing the group, a worker would get SIGINT and then that SIGTERM, and
      // a second signal forces a worker's exit (infra/signals.ts).
      detached: true,
    });
    await once(child, 'spawn');
    const handle: WorkerHandle = { workerId: spec.workerId, role: spec.role, runtimeId: String(child.pid), running: true, startedAt: Date.now() };
    const exited = new Promise<ExitInfo>((resolve) => {
      child.once('exit', (code, signal) => {
        handle.running = false;
        const info: ExitInfo = { workerId: spec.workerId, exitCode: code, reason: signal === 'SIGKILL' ? 'killed' : 'exited' };
        resolve(info);
        this.events.emit('exit', info);
      });
    });
    this.workers.set(spec.workerId, { handle, child, exited });
    return { ...handle };
  }

  async drain(workerId: string, graceMs: number): Promise<ExitInfo> {
    const entry = this.entry(workerId);
    if (entry.handle.running) entry.child.kill('SIGTERM');
    const timer = setTimeout(() => entry.child.kill('SIGKILL'), graceMs);
    try {
      return await entry.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  async remove(workerId: string): Promise<void> {
    const entry = this.workers.get(workerId);
    if (!entry) return;
    if (entry.handle.running) entry.child.kill('SIGKILL');
    await entry.exited;
    this.workers.delete(workerId);
  }

  onExit(listener: (info: ExitInfo) => void): () => void {
    this.events.on('exit', listener);
    return () => this.events.off('exit', listener);
  }

  private closeOnce: Promise<void> | undefined;

  /** Same promise on every call. */
  close(): Promise<void> {
    this.closeOnce ??= (async () => {
      this.events.removeAllListeners();
    })();
    return this.closeOnce;
  }

  private entry(workerId: string): Entry {
    const entry = this.workers.get(workerId);
    if (!entry) throw new ShoalError('UNKNOWN_WORKER', `no worker ${workerId} in this runtime`);
    return entry;
  }
}
