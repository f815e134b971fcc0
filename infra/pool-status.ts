import type { WorkerRole } from './worker-role.js';

/**
 * The pool's status: what the dispatcher writes to Redis on every tick and
 * what `shoal-status` (and the tests) read back. A contract between the
 * dispatcher and its readers, so it lives below them, beside the pool's event
 * log (pool-events.ts) and the worker report (worker-report.ts).
 */

/** What the dispatcher measured, smoothed over a window: the scaling policy's input, and what the status shows. */
export interface Observation {
  /** Requests arriving per second. */
  arrivalRate: number;
  /** Mean time a worker spends on one request, in ms; undefined before any request completed. */
  serviceMs: number | undefined;
  /** Requests waiting in the queue, not yet delivered to any worker. */
  backlog: number;
  /** How fast the backlog grows right now, per second (negative while it shrinks): the queue's own count, read without report lag. */
  backlogGrowth: number;
  /** Requests delivered to workers and not yet acked. */
  inFlight: number;
  /** Observed p95 of the time from publish to delivery, in ms; undefined with too few samples. */
  waitP95Ms: number | undefined;
}

/** 'starting': no report yet; 'active': consuming; 'draining': on its way out, no longer capacity. */
export type MemberState = 'starting' | 'active' | 'draining';

/** One worker of the pool as the dispatcher tracks it. */
export interface Member {
  workerId: string;
  role: WorkerRole;
  state: MemberState;
  inFlight: number;
  startedAt: number;
  runtimeId: string;
}

/** What `shoal-status` shows. */
export interface PoolStatus {
  at: number;
  namespace: string;
  policy: string;
  targetWaitP95Ms: number;
  min: number;
  max: number;
  spares: number;
  runtime: string;
  observation: Observation;
  desired: number;
  members: Member[];
  decisions: { at: number; reason: string }[];
}

/** The Redis key of a pool's status; it expires when the dispatcher stops writing it. */
export const statusKey = (namespace: string) => `${namespace}:dispatcher:status`;
