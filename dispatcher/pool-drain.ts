import { errorMessage } from '../infra/errors.js';
import type { Logger } from '../infra/log.js';
import type { WorkerRuntime } from '../infra/runtime/types.js';

/** The drain grace of a worker that is still starting: see Pool.retire(). */
export const STARTING_DRAIN_GRACE_MS = 5_000;

/** How the drain before a removal ended, and how long it took ('killed': at the grace). */
export interface DrainOutcome {
  exitCode: number | null;
  reason: string;
  ms: number;
}

/** The grace a worker gets to drain: the full one, or a short one while it is still starting. */
export function drainGraceMs(starting: boolean, fullGraceMs: number): number {
  return starting ? Math.min(fullGraceMs, STARTING_DRAIN_GRACE_MS) : fullGraceMs;
}

/**
 * Drains one worker through the runtime (SIGTERM or a drain message: it
 * cancels its consumer, finishes and acks what it holds, exits), then removes
 * it, whether the drain worked or not. Undefined when the drain failed.
 */
export async function drainThenRemove(
  runtime: WorkerRuntime,
  target: { workerId: string; inFlight: number },
  graceMs: number,
  starting: boolean,
  logger: Logger,
): Promise<DrainOutcome | undefined> {
  const drainStarted = Date.now();
  let drain: DrainOutcome | undefined;
  try {
    const info = await runtime.drain(target.workerId, graceMs);
    drain = { exitCode: info.exitCode, reason: info.reason, ms: Date.now() - drainStarted };
    logger.info({ workerId: target.workerId, exitCode: info.exitCode, reason: info.reason, inFlightAtDrain: target.inFlight, starting, ms: drain.ms }, 'worker drained');
  } catch (err) {
    logger.warn({ workerId: target.workerId, err: errorMessage(err) }, 'drain failed; removing the worker');
  } finally {
    await runtime.remove(target.workerId).catch((err: unknown) =>
      logger.error({ workerId: target.workerId, err: errorMessage(err) }, 'could not remove a worker; `npm run cleanup` removes what is left'),
    );
  }
  return drain;
}
