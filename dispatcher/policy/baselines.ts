import { describeInputs } from './inputs.js';
import type { Policy } from './types.js';

/**
 * The student system's rule: one more worker while the observed latency is
 * over the threshold, one fewer once it is well under it and nothing waits.
 */
export const latencyThresholdPolicy: Policy = (observation, pool, config) => {
  const current = pool.active + pool.starting;
  const inputs = describeInputs(observation);
  const wait = observation.waitP95Ms;
  const threshold = config.targetWaitP95Ms;
  if (wait !== undefined && wait > threshold) {
    // Only once the last added worker is up, or it keeps adding on stale latency.
    const workers = pool.starting > 0 ? current : current + 1;
    return { workers, steady: workers, reason: `${inputs}; p95 wait over the ${threshold} ms threshold` };
  }
  if ((wait === undefined || wait < threshold / 2) && observation.backlog === 0) {
    return { workers: current - 1, steady: current - 1, reason: `${inputs}; p95 wait under half the threshold` };
  }
  return { workers: current, steady: current, reason: `${inputs}; within the threshold` };
};

/**
 * KEDA's RabbitMQ scaler in QueueLength mode, as the HPA applies it:
 * workers = ceil(messages in the queue (ready + unacked) / target per worker).
 */
export const queueLengthPolicy: Policy = (observation, _pool, config) => {
  const messages = observation.backlog + observation.inFlight;
  const workers = Math.ceil(messages / config.targetQueueLength);
  return { workers, steady: workers, reason: `${describeInputs(observation)}; ${messages} messages / ${config.targetQueueLength} per worker` };
};
