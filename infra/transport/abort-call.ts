import { CancelledError } from '../errors.js';

/** The error a call rejects with when its caller aborts it. */
export function callCancelled(job: string, signal: AbortSignal): CancelledError {
  return new CancelledError(`${job}: the caller cancelled the call`, { cause: signal.reason });
}

/**
 * Runs `abort` if the caller's signal fires while the call waits for its
 * reply. Each transport's abort fails the call at once and tells the pool,
 * so that the worker running the request stops it (its handler's signal
 * fires) and one that gets it later skips it.
 */
export function onCallAborted(signal: AbortSignal | undefined, reply: Promise<unknown>, abort: () => void): void {
  if (!signal) return;
  signal.addEventListener('abort', abort, { once: true });
  void reply.then(
    () => signal.removeEventListener('abort', abort),
    () => signal.removeEventListener('abort', abort),
  );
}
