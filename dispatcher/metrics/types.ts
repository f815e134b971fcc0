import type { QueueDepth } from '../../infra/transport/types.js';
import type { WorkerReport } from '../../infra/worker-report.js';

/** The request queue as the transport reports it (RabbitMQ or BullMQ; see infra/transport/types.ts). */
export type QueueSample = QueueDepth;

/** One sample of everything the dispatcher observes, taken once per scaling interval. */
export interface Sample {
  at: number;
  queue: QueueSample;
  /** Worker reports from Redis; undefined while Redis is unavailable. */
  reports: WorkerReport[] | undefined;
  /**
   * Why the queue's depth could not be read, when it could not; `queue` is
   * then a stand-in of zeros, not a figure. An empty queue that is really an
   * unreadable one would shrink the pool, so the autoscaler holds it instead.
   */
  blind?: string;
}

/** The port through which the dispatcher measures: broker figures and worker reports. */
export interface MetricsSource {
  sample(now: number): Promise<Sample>;
}
