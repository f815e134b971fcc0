import type { WorkerReport } from '../../infra/protocol.js';

/** The request queue as the broker reports it. */
export interface QueueSample {
  /** Messages waiting, not yet delivered. */
  ready: number;
  /** Delivered and not yet acked; the passive-declare fallback cannot tell. */
  unacked: number | undefined;
  consumers: number;
  /** Publishes per second, as the management API smooths them; undefined without it. */
  publishRate: number | undefined;
  source: 'management' | 'passive';
}

/** One sample of everything the dispatcher observes, taken once per scaling interval. */
export interface Sample {
  at: number;
  queue: QueueSample;
  /** Worker reports from Redis; undefined while Redis is unavailable. */
  reports: WorkerReport[] | undefined;
}

/** The port through which the dispatcher measures: broker figures and worker reports. */
export interface MetricsSource {
  sample(now: number): Promise<Sample>;
}
