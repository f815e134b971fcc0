/** A worker that lived shorter than this counts as a failed start. */
const HEALTHY_LIFETIME_MS = 10_000;

/**
 * Backoff between restarts after consecutive failed starts, so a worker that
 * cannot start (bad image, bad config) does not crash-loop the host.
 */
export function restartDelayMs(consecutiveFailures: number): number {
  if (consecutiveFailures <= 0) return 0;
  return Math.min(30_000, 500 * 2 ** (consecutiveFailures - 1));
}

/**
 * The pool's start backoff: failed starts, and workers that die young, count
 * as consecutive failures; no new worker starts before the backoff has passed,
 * whoever asks. A worker that lived long enough resets it.
 */
export class StartBackoff {
  private failures = 0;
  private until = 0;

  /** A start failed; returns how long the next one waits. */
  startFailed(now: number): number {
    this.failures++;
    return this.hold(now);
  }

  /** A worker exited after `livedMs`; returns how long its replacement waits. */
  exited(livedMs: number, now: number): number {
    this.failures = livedMs < HEALTHY_LIFETIME_MS ? this.failures + 1 : 0;
    return this.hold(now);
  }

  /** How long until a start may go ahead (0 or less: now). */
  waitMs(now: number): number {
    return this.until - now;
  }

  private hold(now: number): number {
    const delay = restartDelayMs(this.failures);
    this.until = now + delay;
    return delay;
  }
}
