import { describe, expect, it } from 'vitest';
import { AggregateReport } from '../../dispatcher/simulator/aggregate-report.js';

/** The simulator's model of worker/reporter.ts: the interval report, and the early one after idle. */
describe('the simulated pool report', () => {
  it('publishes what the counters held at publish time, not after', () => {
    const report = new AggregateReport();
    report.started(12);
    report.completed(50);
    report.publish(1_000, 3);
    report.completed(40);
    expect(report.latest).toMatchObject({ processed: 1, serviceMsTotal: 50, inFlight: 3, reportedAt: 1_000 });
  });

  it('is published early once, at the pool\'s first completion', () => {
    const report = new AggregateReport();
    report.publish(1_000, 0);
    report.completed(50);
    expect(report.wakes()).toBe(true);
    expect(report.wakes()).toBe(false); // once
    report.publish(1_050, 2);
    report.publish(2_050, 0);
    report.completed(50);
    expect(report.wakes()).toBe(false); // idle again, but its service time is known
  });
});
