import { describe, expect, it } from 'vitest';
import { ObservationWindow } from '../../dispatcher/metrics/window.js';
import type { Sample } from '../../dispatcher/metrics/types.js';
import type { WorkerReport } from '../../infra/worker-report.js';
import { bucketIndex, emptyBuckets } from '../../infra/wait-histogram.js';

const window = () => new ObservationWindow({ rateWindowMs: 5000, latencyWindowMs: 10_000, minWaitSamples: 20 });

function report(workerId: string, processed: number, fields: Partial<WorkerReport> = {}): WorkerReport {
  return { workerId, role: 'worker', state: 'active', inFlight: 0, processed, failed: 0, redelivered: 0, serviceMsTotal: processed * 50, waitBuckets: emptyBuckets(), startedAt: 0, reportedAt: 0, ...fields };
}

function sample(at: number, ready: number, reports: WorkerReport[] | undefined, publishRate?: number): Sample {
  return { at, queue: { ready, unacked: undefined, consumers: 1, publishRate, source: 'passive' }, reports };
}

describe('observation window', () => {
  it('counts arrivals as completions plus growth of what is queued, and averages service time', () => {
    const w = window();
    w.add(sample(0, 0, [report('a', 0)]));
    w.add(sample(1000, 0, [report('a', 100)]));
    w.add(sample(2000, 50, [report('a', 200)])); // 100 done and 50 more waiting: 150 arrived
    const o = w.observe(2000);
    expect(o.arrivalRate).toBeCloseTo(125, 0); // 250 arrived over 2 s
    expect(o.serviceMs).toBe(50);
    expect(o.backlog).toBe(50);
  });

  it('reads the rate over the whole window: reports come in lumps, a shorter window would read one lump as a burst', () => {
    const w = window();
    // 100/s, reported once a second and sampled four times a second.
    for (let t = 0; t <= 10_000; t += 250) w.add(sample(t, 0, [report('a', 100 * Math.floor(t / 1000))]));
    for (const now of [10_000]) expect(w.observe(now).arrivalRate).toBeCloseTo(100, 0);
  });

  it('sees the queue grow at once, without report lag', () => {
    const w = window();
    w.add(sample(0, 0, [report('a', 0)]));
    w.add(sample(250, 40, [report('a', 0)]));
    expect(w.observe(250)).toMatchObject({ backlog: 40, backlogGrowth: 160 });
  });

  it('does not read a Redis outage as a burst of arrivals when the reports come back', () => {
    const w = window();
    w.add(sample(0, 0, [report('a', 1000, { startedAt: -60_000 })])); // an old worker: its history is not news
    w.add(sample(1000, 0, [report('a', 1010, { startedAt: -60_000 })]));
    w.add(sample(2000, 0, undefined, 10)); // Redis down: the publish rate stands in
    expect(w.observe(2000).arrivalRate).toBe(10);
    w.add(sample(3000, 0, [])); // back, but the report expired meanwhile
    w.add(sample(4000, 0, [report('a', 1040, { startedAt: -60_000 })]));
    expect(w.observe(4000).arrivalRate).toBeLessThan(50);
  });

  it('gives a p95 wait only with enough samples in the window', () => {
    const w = window();
    const buckets = (n: number) => {
      const b = emptyBuckets();
      b[bucketIndex(100)] = n;
      return b;
    };
    w.add(sample(0, 0, [report('a', 0)]));
    w.add(sample(1000, 0, [report('a', 10, { waitBuckets: buckets(10) })]));
    expect(w.observe(1000).waitP95Ms).toBeUndefined();
    w.add(sample(2000, 0, [report('a', 30, { waitBuckets: buckets(30) })]));
    expect(w.observe(2000).waitP95Ms).toBeGreaterThan(80);
    expect(w.observe(2000).waitP95Ms).toBeLessThan(125); // within its bucket (25% wide)
  });
});
