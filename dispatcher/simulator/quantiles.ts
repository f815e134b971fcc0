/**
 * Quantiles of queue waits. Most waits are exactly 0 (a slot was free), so
 * zeros are only counted and just the positive waits are kept and sorted.
 */
export class WaitSample {
  private zeros = 0;
  private positives: number[] = [];
  private sorted = true;

  get count(): number {
    return this.zeros + this.positives.length;
  }

  add(waitMs: number): void {
    if (waitMs <= 0) {
      this.zeros++;
      return;
    }
    this.positives.push(waitMs);
    this.sorted = false;
  }

  /** Nearest-rank quantile (q in (0, 1]); undefined when empty. */
  quantile(q: number): number | undefined {
    return quantileOf(this.zeros, this.sortedPositives(), q);
  }

  /** How many waits exceed limitMs. */
  countOver(limitMs: number): number {
    const sorted = this.sortedPositives();
    let low = 0;
    let high = sorted.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (sorted[mid]! <= limitMs) low = mid + 1;
      else high = mid;
    }
    return sorted.length - low;
  }

  private sortedPositives(): number[] {
    if (!this.sorted) {
      this.positives.sort((a, b) => a - b);
      this.sorted = true;
    }
    return this.positives;
  }
}

/** Nearest-rank quantile of `zeros` zero values plus the ascending `positives`. */
export function quantileOf(zeros: number, positives: ArrayLike<number>, q: number): number | undefined {
  const n = zeros + positives.length;
  if (n === 0) return undefined;
  const rank = Math.max(1, Math.ceil(q * n));
  return rank <= zeros ? 0 : positives[rank - zeros - 1]!;
}
