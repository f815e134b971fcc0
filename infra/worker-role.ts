/**
 * What a worker is to the pool: a regular worker, or a warm spare that
 * consumes at a low priority and takes only the overflow. One definition for
 * the runtimes, the transports, the worker, its report and the simulator.
 */
export const WORKER_ROLES = ['worker', 'spare'] as const;
export type WorkerRole = (typeof WORKER_ROLES)[number];
