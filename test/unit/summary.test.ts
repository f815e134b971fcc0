import { describe, expect, it } from 'vitest';
import { formatSummary, SummaryBuilder } from '../../producer/summary.js';

describe('load summary', () => {
  it('counts outcomes and takes percentiles from the histogram', () => {
    const builder = new SummaryBuilder();
    for (let i = 1; i <= 100; i++) builder.add({ index: i, sentAt: 0, latencyMs: i, status: 'ok', workerId: i % 2 ? 'a' : 'b' });
    builder.add({ index: 101, sentAt: 0, latencyMs: 500, status: 'timeout', code: 'TIMEOUT' });
    builder.add({ index: 102, sentAt: 0, latencyMs: 3, status: 'error', code: 'UNKNOWN_JOB', workerId: 'a' });
    const summary = builder.build(2000);

    expect(summary).toMatchObject({ sent: 102, ok: 100, errors: 1, timedOut: 1, durationMs: 2000, throughputPerSec: 51 });
    expect(summary.latencyMs.p50).toBeCloseTo(50, 0);
    expect(summary.latencyMs.p90).toBeCloseTo(91, 0); // 102 samples: 1..100, 3 and 500
    expect(summary.latencyMs.max).toBeCloseTo(500, 0);
    expect(summary.errorsByCode).toEqual({ TIMEOUT: 1, UNKNOWN_JOB: 1 });
    expect(summary.repliesByWorker).toEqual({ a: 51, b: 50 });
  });

  it('prints the lines a person reads', () => {
    const builder = new SummaryBuilder();
    builder.add({ index: 0, sentAt: 0, latencyMs: 1.5, status: 'ok', workerId: 'w1' });
    const text = formatSummary(builder.build(1000));
    expect(text).toContain('sent 1  ok 1  errors 0  timed out 0');
    expect(text).toContain('throughput 1 req/s');
    expect(text).toContain('replies by worker  w1=1');
  });
});
