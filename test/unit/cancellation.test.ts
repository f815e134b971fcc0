import { describe, expect, it } from 'vitest';
import { cancelAfterMs, Cancellations, EXPIRY_GRACE_MS, JobCancelled } from '../../worker/cancellation.js';

describe('Cancellations', () => {
  it('fires a job\'s signal once its deadline and the clock-skew grace have passed, not before', () => {
    const cancellations = new Cancellations();
    const job = cancellations.begin('m1', 10_000);
    const open = cancellations.begin('m2', undefined);
    cancellations.expire(10_000 + EXPIRY_GRACE_MS - 1);
    expect(job.signal.aborted).toBe(false);
    cancellations.expire(10_000 + EXPIRY_GRACE_MS);
    expect(job.signal.reason).toMatchObject({ code: 'TIMEOUT', callerGone: true });
    expect(open.signal.aborted).toBe(false);
    cancellations.stop();
  });

  it('cancels a running job for its caller, and remembers one it does not run so that it is skipped later', () => {
    const cancellations = new Cancellations();
    const job = cancellations.begin('m1', undefined);
    expect(cancellations.cancel('m1')).toBe(true);
    expect(job.signal.reason).toBeInstanceOf(JobCancelled);
    expect(job.signal.reason).toMatchObject({ code: 'CANCELLED', callerGone: true });
    expect(cancellations.cancel('m9')).toBe(false);
    expect(cancellations.cancelledBefore('m9')).toBe(true);
    expect(cancellations.cancelledBefore('m1')).toBe(false);
  });

  it('cancels everything still running when the drain grace runs out, telling the callers', () => {
    const cancellations = new Cancellations();
    const a = cancellations.begin('a', undefined);
    const b = cancellations.begin('b', undefined);
    b.end();
    expect(cancellations.cancelAll()).toBe(1);
    expect(a.signal.reason).toMatchObject({ code: 'CANCELLED', callerGone: false });
    expect(b.signal.aborted).toBe(false);
  });

  it('cancels shortly before the runtime kills the worker: a second before, or a fifth of a short grace', () => {
    expect(cancelAfterMs(30_000)).toBe(29_000);
    expect(cancelAfterMs(1500)).toBe(1200);
  });
});
