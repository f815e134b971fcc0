/**
 * The port through which the dispatcher starts and stops workers. Adapters:
 * local processes (process.ts), Docker containers (docker.ts) and the tasks
 * of a Docker Swarm service (swarm.ts). Every adapter passes the same
 * contract tests (test/e2e/runtime-contract.test.ts).
 */
import type { WorkerRole } from '../worker-role.js';

export type { WorkerRole };

export interface WorkerSpec {
  /** The id to give the worker; a runtime that names workers itself (Swarm) returns its own in the handle. */
  workerId: string;
  role: WorkerRole;
  /** Environment for the worker: broker URL, namespace, concurrency, ... */
  env: Record<string, string>;
}

export interface WorkerHandle {
  workerId: string;
  role: WorkerRole;
  /** The runtime's own id: a pid, a container id or a Swarm task id. */
  runtimeId: string;
  /** Whether the worker's process is still running. */
  running: boolean;
  startedAt: number;
}

export interface ExitInfo {
  workerId: string;
  exitCode: number | null;
  /** Why it ended, as far as the runtime can tell. */
  reason: 'exited' | 'killed' | 'oom';
}

export interface WorkerRuntime {
  readonly kind: 'process' | 'docker' | 'swarm';
  /** Workers of this pool that the runtime knows about, running or not. */
  list(): Promise<WorkerHandle[]>;
  start(spec: WorkerSpec): Promise<WorkerHandle>;
  /**
   * Asks the worker to finish what it holds and exit (SIGTERM), waits up to
   * `graceMs`, then kills it. Resolves with how it ended.
   */
  drain(workerId: string, graceMs: number): Promise<ExitInfo>;
  /** Kills the worker if it still runs and removes what is left of it. */
  remove(workerId: string): Promise<void>;
  /** Called whenever a worker ends, whether asked to or not. Returns an unsubscribe. */
  onExit(listener: (info: ExitInfo) => void): () => void;
  /**
   * Stops watching; leaves workers alone (the pool removes them first). The
   * Swarm runtime also removes its services here once they are empty.
   */
  close(): Promise<void>;
}
