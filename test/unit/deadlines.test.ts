import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Deadlines } from '../../infra/transport/deadlines.js';

/** Deadlines on the faked Date.now clock, recording what expired and when. */
function track() {
  const expired: [string, number][] = [];
  const start = Date.now();
  const deadlines = new Deadlines<string>((key) => expired.push([key, Date.now() - start]), () => Date.now());
  return { deadlines, expired };
}

describe('Deadlines', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('expires each key at its own deadline, on time, whatever the mix of timeouts', () => {
    const { deadlines, expired } = track();
    deadlines.add('a', 100);
    deadlines.add('b', 50);
    vi.advanceTimersByTime(10);
    deadlines.add('c', 100); // due at 110
    deadlines.add('d', 20); // due at 30
    vi.advanceTimersByTime(200);
    expect(expired).toEqual([['d', 30], ['b', 50], ['a', 100], ['c', 110]]);
  });

  it('a forgotten key never expires, and the timer stops once nothing waits', () => {
    const { deadlines, expired } = track();
    deadlines.add('a', 100);
    deadlines.add('b', 100);
    deadlines.delete('a', 100);
    vi.advanceTimersByTime(150);
    expect(expired).toEqual([['b', 100]]);
    deadlines.add('c', 100);
    deadlines.delete('c', 100);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a key added out of order (it started earlier) still expires on time', () => {
    const { deadlines, expired } = track();
    vi.advanceTimersByTime(50);
    deadlines.add('late-started', 100); // due at 150
    deadlines.add('early-started', 100, Date.now() - 40); // due at 110, behind a later one in its lane
    vi.advanceTimersByTime(200);
    expect(expired).toEqual([['early-started', 110], ['late-started', 150]]);
  });

  it('keeps one timer however many keys wait', () => {
    const { deadlines } = track();
    for (let i = 0; i < 1000; i++) {
      deadlines.add(`k${i}`, 60_000);
      vi.advanceTimersByTime(1);
    }
    expect(vi.getTimerCount()).toBe(1);
  });
});
