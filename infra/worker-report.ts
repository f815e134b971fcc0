import { z } from 'zod';
import { WORKER_ROLES } from './worker-role.js';

/**
 * What each worker writes to Redis every interval (key `<ns>:workers:<id>`,
 * expiring after three missed intervals). Counters are cumulative since the
 * worker started; the dispatcher takes differences.
 */
export const workerReportSchema = z.object({
  workerId: z.string(),
  role: z.enum(WORKER_ROLES),
  state: z.enum(['active', 'draining']),
  inFlight: z.number(),
  processed: z.number(),
  failed: z.number(),
  redelivered: z.number(),
  serviceMsTotal: z.number(),
  /** Cumulative queue-wait counts per bucket of infra/wait-histogram.ts. */
  waitBuckets: z.array(z.number()),
  startedAt: z.number(),
  reportedAt: z.number(),
});
export type WorkerReport = z.infer<typeof workerReportSchema>;

/**
 * A worker that has finished nothing yet checks this often for its first
 * finished request, and reports at once when it has one (worker/reporter.ts).
 * Until then a new pool's dispatcher has no service time, and grows the pool
 * one worker per tick; an interval later (1 s) is most of a step's catch-up.
 * Only the first: after an idle spell the first requests to finish are the
 * shortest, and sizing on them undersized the pool (see dispatcher/README.md).
 * The simulator models the same (dispatcher/simulator/aggregate-report.ts).
 */
export const REPORT_WAKE_CHECK_MS = 100;
