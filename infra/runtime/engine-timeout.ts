import { ShoalError } from '../errors.js';

/**
 * How long one Docker engine call may take (SHOAL_DOCKER_TIMEOUT). A hung
 * engine (dockerd wedged, a socket that accepts and never answers) otherwise
 * holds the caller forever: a `create` that never returns delayed the
 * dispatcher's shutdown with no word of why.
 */
export const DEFAULT_ENGINE_TIMEOUT_MS = 30_000;

/** A Docker engine call that did not answer in time; its message names the call. */
export class EngineTimeoutError extends ShoalError {
  constructor(readonly call: string, readonly timeoutMs: number) {
    super('DOCKER_TIMEOUT', `the Docker engine did not answer ${call} within ${timeoutMs} ms (is dockerd hung or overloaded? SHOAL_DOCKER_TIMEOUT sets the limit)`);
  }
}

/**
 * Runs one engine call with a deadline. `run` gets an AbortSignal to hand to
 * dockerode (its `abortSignal` option), so that the HTTP request is dropped,
 * not left open, when the time is up; the call then fails with an
 * EngineTimeoutError that names it. Long-lived streams (the events stream, an
 * image pull's progress) do not go through here.
 */
export async function engineCall<T>(call: string, timeoutMs: number, run: (abortSignal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new EngineTimeoutError(call, timeoutMs);
      controller.abort(error);
      reject(error);
    }, timeoutMs);
  });
  try {
    return await Promise.race([run(controller.signal), expired]);
  } finally {
    clearTimeout(timer);
  }
}
