/**
 * Queue-wait histograms as cumulative bucket counts, like Prometheus
 * histograms: a worker only ever adds, and the dispatcher takes differences
 * between two reports to get the waits of the time in between, then merges
 * workers by adding buckets. Buckets grow by 25% from 1 ms to about 2 minutes.
 */
export const WAIT_BUCKET_BOUNDS_MS: readonly number[] = (() => {
  const bounds: number[] = [];
  for (let bound = 1; bound < 120_000; bound *= 1.25) bounds.push(Math.round(bound * 100) / 100);
  return bounds;
})();

/** One count per bound, plus the overflow bucket at the end. */
export function emptyBuckets(): number[] {
  return new Array<number>(WAIT_BUCKET_BOUNDS_MS.length + 1).fill(0);
}

export function bucketIndex(valueMs: number): number {
  let low = 0;
  let high = WAIT_BUCKET_BOUNDS_MS.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (valueMs <= WAIT_BUCKET_BOUNDS_MS[mid]!) high = mid;
    else low = mid + 1;
  }
  return low;
}

export function addBuckets(into: number[], from: readonly number[]): void {
  for (let i = 0; i < into.length; i++) into[i]! += from[i] ?? 0;
}

/** later - earlier, clamped at 0 (a restarted worker starts from zero). */
export function bucketDelta(later: readonly number[], earlier: readonly number[] | undefined): number[] {
  return later.map((count, i) => Math.max(0, count - (earlier?.[i] ?? 0)));
}

/** The q-quantile, interpolated linearly inside its bucket; undefined with no samples. */
export function bucketQuantile(buckets: readonly number[], quantile: number): number | undefined {
  const total = buckets.reduce((sum, n) => sum + n, 0);
  if (total === 0) return undefined;
  const rank = quantile * total;
  let seen = 0;
  for (let i = 0; i < buckets.length; i++) {
    const count = buckets[i]!;
    if (count > 0 && seen + count >= rank) {
      const low = i === 0 ? 0 : WAIT_BUCKET_BOUNDS_MS[i - 1]!;
      const high = WAIT_BUCKET_BOUNDS_MS[i] ?? low * 1.25;
      return low + ((high - low) * (rank - seen)) / count;
    }
    seen += count;
  }
  return WAIT_BUCKET_BOUNDS_MS[WAIT_BUCKET_BOUNDS_MS.length - 1];
}

export function bucketTotal(buckets: readonly number[]): number {
  return buckets.reduce((sum, n) => sum + n, 0);
}
