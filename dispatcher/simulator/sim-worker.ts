import type { WorkerRole } from '../../infra/runtime/types.js';

export type WorkerState = 'starting' | 'active' | 'draining' | 'removed';

/** One simulated worker: what the pool model (pool-model.ts) and its slot index (slot-index.ts) keep of it. */
export interface SimWorker {
  readonly id: number;
  /** The id the control step knows it by. */
  readonly workerId: string;
  role: WorkerRole;
  state: WorkerState;
  inFlight: number;
  /** When it was asked to start: it costs from then on. */
  readonly startedAt: number;
  removedAt: number | undefined;
}
