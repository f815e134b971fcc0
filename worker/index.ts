/**
 * The `shoal/worker` entry point: job handlers, their errors and context, and
 * a worker run inside an application's own process. (The client is `shoal`.)
 */
export { defineHandlers, runWorker } from './run-worker.js';
export type { Handler, RunningWorker, RunWorkerOptions } from './run-worker.js';
export type { JobContext, JobHandler, JobHandlers } from './jobs.js';
export type { WorkerRole, WorkerStats } from './worker.js';
export { PermanentJobError, ShoalError, TransientJobError } from '../infra/errors.js';
export { ERROR_CODES, type ErrorCode } from '../infra/error-codes.js';
export type { Duration } from '../infra/library-options.js';
