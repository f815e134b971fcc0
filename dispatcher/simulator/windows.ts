import { NumberDeque } from './deque.js';
import { quantileOf } from './quantiles.js';

/**
 * Values stamped with a time, kept only while younger than the window:
 * the sliding windows the dispatcher measures its inputs over.
 */
export class SlidingWindow {
  private readonly times = new NumberDeque();
  private readonly values = new NumberDeque();
  private total = 0;
  private zeros = 0;

  constructor(readonly windowMs: number) {}

  push(at: number, value = 0): void {
    this.times.push(at);
    this.values.push(value);
    this.total += value;
    if (value <= 0) this.zeros++;
  }

  /** Drops what is older than the window at `now`: keeps (now - window, now]. */
  advance(now: number): void {
    const oldest = now - this.windowMs;
    while (this.times.length > 0 && this.times.at(0) <= oldest) {
      this.times.shift();
      const value = this.values.shift();
      this.total -= value;
      if (value <= 0) this.zeros--;
    }
  }

  get count(): number {
    return this.times.length;
  }

  mean(): number | undefined {
    return this.count === 0 ? undefined : this.total / this.count;
  }

  /** Nearest-rank quantile; sorts only the positive values, since most waits are 0. */
  quantile(q: number): number | undefined {
    const positives: number[] = [];
    for (let i = 0; i < this.values.length; i++) {
      const v = this.values.at(i);
      if (v > 0) positives.push(v);
    }
    positives.sort((a, b) => a - b);
    return quantileOf(this.zeros, positives, q);
  }
}
