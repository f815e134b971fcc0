import { describe, expect, it } from 'vitest';
import { addBuckets, bucketDelta, bucketIndex, bucketQuantile, emptyBuckets, WAIT_BUCKET_BOUNDS_MS } from '../../infra/wait-histogram.js';

describe('queue-wait histogram', () => {
  it('puts a value in the first bucket whose bound is at least the value', () => {
    expect(bucketIndex(0)).toBe(0);
    expect(bucketIndex(1)).toBe(0);
    expect(WAIT_BUCKET_BOUNDS_MS[bucketIndex(200)]).toBeGreaterThanOrEqual(200);
    expect(WAIT_BUCKET_BOUNDS_MS[bucketIndex(200) - 1]).toBeLessThan(200);
    expect(bucketIndex(1e9)).toBe(WAIT_BUCKET_BOUNDS_MS.length);
  });

  it('estimates quantiles within a bucket width (25%)', () => {
    const buckets = emptyBuckets();
    for (let ms = 1; ms <= 1000; ms++) buckets[bucketIndex(ms)]!++;
    expect(bucketQuantile(buckets, 0.5)).toBeGreaterThan(500 / 1.25);
    expect(bucketQuantile(buckets, 0.5)).toBeLessThan(500 * 1.25);
    expect(bucketQuantile(buckets, 0.95)).toBeGreaterThan(950 / 1.25);
    expect(bucketQuantile(buckets, 0.95)).toBeLessThan(950 * 1.25);
    expect(bucketQuantile(emptyBuckets(), 0.95)).toBeUndefined();
  });

  it('takes differences of cumulative counts and merges workers by adding', () => {
    const before = emptyBuckets();
    before[3] = 5;
    const after = [...before];
    after[3] = 7;
    after[10] = 1;
    const delta = bucketDelta(after, before);
    expect(delta[3]).toBe(2);
    expect(delta[10]).toBe(1);
    // A restarted worker's counters start again from zero: never negative.
    expect(bucketDelta(emptyBuckets(), after).every((n) => n === 0)).toBe(true);
    const merged = emptyBuckets();
    addBuckets(merged, delta);
    addBuckets(merged, delta);
    expect(merged[3]).toBe(4);
  });
});
