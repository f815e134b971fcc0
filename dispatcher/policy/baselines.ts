import { boundDecision, describeInputs } from './bounds.js';
import type { Policy } from './types.js';

/**
 * The student system's rule: one more worker while the observed latency is
 * over the threshold, one fewer once it is well under it and nothing waits.
 */
export const latencyThresholdPolicy: Policy = (observation, pool, config, now, history) => {
  const current = pool.active + pool.starting;
  const inputs = describeInputs(observation);
  const wait = observation.waitP95Ms;
  const threshold = config.targetWaitP95Ms;
  if (wait !== undefined && wait > threshold) {
    // Only once the last added worker is up, or it keeps adding on stale latency.
    const workers = pool.starting > 0 ? current : current + 1;
    return boundDecision(workers, pool, config, now, history, `${inputs}; p95 wait over the ${threshold} ms threshold`);
  }
  if ((wait === undefined || wait < threshold / 2) && observation.backlog === 0) {
    return boundDecision(current - 1, pool, config, now, history, `${inputs}; p95 wait under half the threshold`);
  }
  return boundDecision(current, pool, config, now, history, `${inputs}; within the threshold`);
};

/**
 * KEDA's RabbitMQ scaler in QueueLength mode, as the HPA applies it:
 * workers = ceil(messages in the queue (ready + unacked) / target per worker).
 */
export const queueLengthPolicy: Policy = (observation, pool, config, now, history) => {
  const messages = observation.backlog + observation.inFlight;
  const workers = Math.ceil(messages / config.targetQueueLength);
  return boundDecision(workers, pool, config, now, history, `${describeInputs(observation)}; ${messages} messages / ${config.targetQueueLength} per worker`);
};
