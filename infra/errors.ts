/**
 * A small error hierarchy. Every error carries a stable `code` that travels in
 * replies and logs, and an optional `cause`.
 *
 * - PermanentJobError (and any plain Error thrown by a job): the caller gets an
 *   error reply and the message is dead-lettered. Retrying would not help.
 * - TransientJobError: the message is requeued and retried, bounded by the
 *   queue's delivery limit. On the last allowed attempt it is treated as permanent.
 */
export class ShoalError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Input that does not follow the protocol or a config that cannot be used. */
export class ValidationError extends ShoalError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** Settings that cannot be used: each problem names the variable and the flag to fix. */
export class ConfigError extends ValidationError {
  constructor(readonly problems: string[]) {
    super('BAD_CONFIG', `invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
}

export class PermanentJobError extends ShoalError {
  constructor(message: string, options?: { cause?: unknown; code?: string }) {
    super(options?.code ?? 'JOB_FAILED', message, options);
  }
}

export class TransientJobError extends ShoalError {
  constructor(message: string, options?: { cause?: unknown; code?: string }) {
    super(options?.code ?? 'JOB_TRANSIENT', message, options);
  }
}

/** The caller gave up waiting for a reply. */
export class TimeoutError extends ShoalError {
  constructor(message: string) {
    super('TIMEOUT', message);
  }
}

/** The broker refused or could not take a publish. */
export class PublishError extends ShoalError {
  constructor(message: string, options?: { cause?: unknown; code?: string }) {
    super(options?.code ?? 'PUBLISH_FAILED', message, options);
  }
}

/** The caller's AbortSignal fired before the reply came. */
export class CancelledError extends ShoalError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CANCELLED', message, options);
  }
}

/** A reply came back with ok=false: the worker's (or the dispatcher's) code and message. */
export class RemoteJobError extends ShoalError {
  /** The worker that answered ("dispatcher" or "bullmq" when they did); undefined when unknown. */
  readonly workerId: string | undefined;

  constructor(code: string, message: string, workerId?: string) {
    super(code, message);
    this.workerId = workerId;
  }
}

export function errorCode(err: unknown): string {
  return err instanceof ShoalError ? err.code : 'JOB_FAILED';
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
