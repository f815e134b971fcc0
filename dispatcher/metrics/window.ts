import type { WorkerReport } from '../../infra/worker-report.js';
import { addBuckets, bucketDelta, bucketQuantile, bucketTotal, emptyBuckets } from '../../infra/wait-histogram.js';
import type { Observation } from '../policy/types.js';
import type { Sample } from './types.js';

export interface WindowOptions {
  /** Arrival rates are averaged over this window: several worker report intervals long. */
  rateWindowMs: number;
  /** Service times and queue waits are taken over this window. */
  latencyWindowMs: number;
  /** Fewer queue-wait samples than this in the window: no p95 (one spike is not a trend). */
  minWaitSamples: number;
}

/** The live dispatcher's windows; the simulator uses the same. */
export const defaultWindowOptions: WindowOptions = { rateWindowMs: 5_000, latencyWindowMs: 10_000, minWaitSamples: 20 };

interface Tick {
  at: number;
  /** Requests finished, ok or not. */
  completed: number;
  /** Requests finished ok, and the time they took: the service time. */
  processed: number;
  serviceMs: number;
  waitBuckets: number[];
  /** Requests in the system: queued plus in flight. */
  depth: number;
  publishRate: number | undefined;
  /** Whether worker reports were readable: without them, completions are unknown. */
  hadReports: boolean;
}

/**
 * Turns raw samples into a smoothed Observation for the policy. Pure: the
 * caller feeds samples with their time. Worker counters are cumulative, so it
 * keeps each worker's last report and works on differences, which survive a
 * missed sample and workers coming and going.
 */
export class ObservationWindow {
  private readonly ticks: Tick[] = [];
  private readonly lastReports = new Map<string, WorkerReport>();
  private lastServiceMs: number | undefined;
  private lastSampleAt: number | undefined;
  private latest: { backlog: number; inFlight: number } = { backlog: 0, inFlight: 0 };
  /** The queue's ready count at the last two samples: how fast it grows right now. */
  private readyTrend: { at: number; ready: number }[] = [];

  constructor(private readonly options: WindowOptions) {}

  add(sample: Sample): void {
    let completed = 0;
    let processed = 0;
    let serviceMs = 0;
    const waitBuckets = emptyBuckets();
    let inFlight = sample.queue.unacked ?? 0;
    if (sample.reports) {
      inFlight = 0;
      for (const report of sample.reports) {
        // A worker first seen now that started before the last sample is not new: its
        // report was just unreadable for a while (Redis was down). Take it as the baseline
        // rather than counting all it ever did as arrivals of this moment.
        const unseenOldTimer = !this.lastReports.has(report.workerId) && (this.lastSampleAt === undefined || report.startedAt < this.lastSampleAt);
        const previous = unseenOldTimer ? report : this.lastReports.get(report.workerId);
        completed += Math.max(0, report.processed + report.failed - (previous ? previous.processed + previous.failed : 0));
        processed += Math.max(0, report.processed - (previous?.processed ?? 0));
        serviceMs += Math.max(0, report.serviceMsTotal - (previous?.serviceMsTotal ?? 0));
        addBuckets(waitBuckets, bucketDelta(report.waitBuckets, previous?.waitBuckets));
        inFlight += report.inFlight;
        this.lastReports.set(report.workerId, report);
      }
      const present = new Set(sample.reports.map((r) => r.workerId));
      for (const id of this.lastReports.keys()) if (!present.has(id)) this.lastReports.delete(id);
    }
    this.latest = { backlog: sample.queue.ready, inFlight };
    this.readyTrend = [...this.readyTrend.slice(-1), { at: sample.at, ready: sample.queue.ready }];
    this.lastSampleAt = sample.at;
    this.ticks.push({ at: sample.at, completed, processed, serviceMs, waitBuckets, depth: sample.queue.ready + inFlight, publishRate: sample.queue.publishRate, hadReports: sample.reports !== undefined });
    const horizon = sample.at - Math.max(this.options.rateWindowMs, this.options.latencyWindowMs);
    while (this.ticks.length > 1 && this.ticks[0]!.at < horizon) this.ticks.shift();
  }

  observe(now: number): Observation {
    return {
      // One window several report intervals long: a shorter one catches one report or two
      // (completions arrive in report-sized lumps) and reads the rate 0.6x or 1.2x. A rise is
      // seen sooner through the queue itself (backlogGrowth, the policy's saturation estimate).
      arrivalRate: this.arrivalRate(now, this.options.rateWindowMs),
      serviceMs: this.serviceMs(now),
      backlog: this.latest.backlog,
      backlogGrowth: this.backlogGrowth(),
      inFlight: this.latest.inFlight,
      waitP95Ms: this.waitP95(now),
    };
  }

  /**
   * Arrivals = completions + growth of what is in the system, over the window.
   * Without worker reports (Redis down) completions are unknown: then the
   * broker's own publish rate stands in, when the management API gives one.
   */
  private arrivalRate(now: number, windowMs: number): number {
    const inWindow = this.ticks.filter((t) => t.at > now - windowMs);
    const first = this.ticks[this.ticks.indexOf(inWindow[0]!) - 1] ?? inWindow[0];
    const last = inWindow[inWindow.length - 1];
    if (!first || !last || last.at <= first.at) return last?.publishRate ?? 0;
    if (!inWindow.every((t) => t.hadReports) && last.publishRate !== undefined) return last.publishRate;
    const completed = inWindow.reduce((sum, t) => sum + (t === first ? 0 : t.completed), 0);
    const arrivals = completed + (last.depth - first.depth);
    return Math.max(0, arrivals / ((last.at - first.at) / 1000));
  }

  /** Ready requests per second gained (or lost) between the last two samples: no report lag, no smoothing. */
  private backlogGrowth(): number {
    const [before, last] = this.readyTrend;
    if (!before || !last || last.at <= before.at) return 0;
    return ((last.ready - before.ready) * 1000) / (last.at - before.at);
  }

  private serviceMs(now: number): number | undefined {
    const inWindow = this.ticks.filter((t) => t.at > now - this.options.latencyWindowMs);
    const processed = inWindow.reduce((sum, t) => sum + t.processed, 0);
    if (processed > 0) this.lastServiceMs = inWindow.reduce((sum, t) => sum + t.serviceMs, 0) / processed;
    return this.lastServiceMs;
  }

  private waitP95(now: number): number | undefined {
    const merged = emptyBuckets();
    for (const t of this.ticks) if (t.at > now - this.options.latencyWindowMs) addBuckets(merged, t.waitBuckets);
    return bucketTotal(merged) >= this.options.minWaitSamples ? bucketQuantile(merged, 0.95) : undefined;
  }
}
