import { describe, expect, it } from 'vitest';
import { StartBackoff } from '../../dispatcher/start-backoff.js';

describe('StartBackoff', () => {
  it('lets the first start go at once', () => {
    expect(new StartBackoff().waitMs(1_000)).toBeLessThanOrEqual(0);
  });

  it('doubles the wait with each failed start, up to 30 s', () => {
    const backoff = new StartBackoff();
    const delays = Array.from({ length: 8 }, () => backoff.startFailed(0));
    expect(delays).toEqual([500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
    expect(backoff.waitMs(10_000)).toBe(20_000);
  });

  it('counts a worker that dies young as a failed start, and one that lived 10 s as healthy', () => {
    const backoff = new StartBackoff();
    expect(backoff.exited(2_000, 0)).toBe(500);
    expect(backoff.exited(9_999, 0)).toBe(1_000);
    expect(backoff.exited(10_000, 50_000)).toBe(0);
    expect(backoff.waitMs(50_000)).toBe(0);
    expect(backoff.startFailed(50_000)).toBe(500);
  });
});
