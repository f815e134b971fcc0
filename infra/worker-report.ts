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
