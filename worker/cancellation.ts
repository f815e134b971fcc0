import { BoundedSet } from '../infra/bounded-set.js';
import { ShoalError } from '../infra/errors.js';

/**
 * Why a running job's signal fired. `TIMEOUT`: its deadline passed, so its
 * caller has given up. `CANCELLED`: its caller aborted the call, or the
 * worker's drain grace ran out.
 */
export class JobCancelled extends ShoalError {
  constructor(code: 'TIMEOUT' | 'CANCELLED', message: string, readonly callerGone: boolean) {
    super(code, message);
  }
}

/**
 * The deadline comes from the producer's clock. The broker's own expiration is
 * exact; the worker's checks only stop work nobody waits for, so they allow
 * for some clock skew between hosts.
 */
export const EXPIRY_GRACE_MS = 1000;

/** How often running jobs' deadlines are checked: well within the clock-skew grace. */
const DEADLINE_SWEEP_MS = 250;

/**
 * One job in flight. Its AbortController is made only when the handler first
 * reads `signal`: constructing one costs about 3 µs in Node 20, as much as
 * the rest of an echo's handling, and most handlers never look.
 */
export class RunningJob {
  private controller: AbortController | undefined;
  /** Why it was cancelled, once it was. */
  cancelledBy: JobCancelled | undefined;

  constructor(
    /** Epoch ms at which its signal fires: the deadline plus the grace; Infinity without one. */
    readonly expiresAt: number,
    /** Call when it has settled. */
    readonly end: () => void,
  ) {}

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.cancelledBy) this.controller.abort(this.cancelledBy);
    }
    return this.controller.signal;
  }

  cancel(reason: JobCancelled): void {
    if (this.cancelledBy) return;
    this.cancelledBy = reason;
    this.controller?.abort(reason);
  }
}

/** How many early cancels a worker remembers: far more than a queue's backlog of cancelled calls in practice. */
const CANCELLED_IDS_KEPT = 10_000;

/**
 * The AbortSignal of each job in flight, by message id: it fires at the
 * request's deadline (with the clock-skew grace), when the caller cancels, or
 * when the worker's drain grace runs out. A handler that honours it stops
 * early; one that ignores it is unaffected.
 */
export class Cancellations {
  private readonly running = new Map<string, RunningJob>();
  /** One timer for every running job's deadline, not one per job: the request path stays cheap. */
  private sweeper: NodeJS.Timeout | undefined;
  /** Cancelled before this worker ran them: still queued, or held by another worker. */
  private readonly cancelledEarly = new BoundedSet<string>(CANCELLED_IDS_KEPT);

  /** One job starts; call its `end` when it has settled. */
  begin(messageId: string, deadline: number | undefined): RunningJob {
    const job: RunningJob = new RunningJob(deadline === undefined ? Infinity : deadline + EXPIRY_GRACE_MS, () => {
      if (this.running.get(messageId) === job) this.running.delete(messageId);
    });
    this.running.set(messageId, job);
    if (deadline !== undefined) this.sweeper ??= setInterval(() => this.expire(Date.now()), DEADLINE_SWEEP_MS).unref();
    return job;
  }

  /** Fires the signal of every job whose deadline (with the clock-skew grace) has passed. */
  expire(now: number): void {
    for (const job of this.running.values()) {
      if (job.expiresAt <= now) job.cancel(new JobCancelled('TIMEOUT', 'the request\'s deadline passed while it ran', true));
    }
  }

  /** Stops the deadline timer: the worker has closed. */
  stop(): void {
    clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  /**
   * The caller gave up on this request. Every worker hears it: the one that
   * runs it stops it, and the others remember it, so that whoever is handed
   * it later skips it. Returns whether this worker was running it.
   */
  cancel(messageId: string): boolean {
    const job = this.running.get(messageId);
    if (!job) {
      this.cancelledEarly.add(messageId);
      return false;
    }
    job.cancel(new JobCancelled('CANCELLED', 'the caller cancelled the request', true));
    return true;
  }

  /** Whether its caller cancelled it before it reached this worker: it is acked without running. */
  cancelledBefore(messageId: string): boolean {
    return this.cancelledEarly.has(messageId);
  }

  /** The drain grace ran out: every job still running is cancelled, and its caller told so. */
  cancelAll(): number {
    for (const job of this.running.values()) job.cancel(new JobCancelled('CANCELLED', 'the worker was stopping and its drain grace ran out', false));
    return this.running.size;
  }
}

/**
 * When a draining worker cancels what it still runs: shortly before its
 * runtime kills it at the end of the drain grace, so that each job can stop,
 * reply and be acked in time. A second, or a fifth of a short grace.
 */
export function cancelAfterMs(drainGraceMs: number): number {
  return drainGraceMs - Math.min(1000, drainGraceMs / 5);
}
