import type { Observation } from '../policy/index.js';
import { SlidingWindow } from './windows.js';

export interface ObserverOptions {
  /** Arrival rate window (the live dispatcher's 5 s). */
  rateWindowMs: number;
  /** If set, the rate is the higher of the long and this short window's: it sees a rise sooner. */
  shortRateWindowMs?: number | undefined;
  /** Window for the mean service time and the p95 wait (10 s). */
  statsWindowMs: number;
  /** Fewer waits than this in the window and the p95 is not reported. */
  minWaitSamples: number;
}

/**
 * Measures the policy's inputs the way the live dispatcher does: from
 * arrivals, service starts and completions, over sliding windows.
 */
export class Observer {
  private readonly arrivals: SlidingWindow;
  private readonly recentArrivals: SlidingWindow | undefined;
  private readonly services: SlidingWindow;
  private readonly waits: SlidingWindow;
  private lastServiceMs: number | undefined;

  constructor(private readonly options: ObserverOptions, private readonly startedAt = 0) {
    this.arrivals = new SlidingWindow(options.rateWindowMs);
    if (options.shortRateWindowMs) this.recentArrivals = new SlidingWindow(options.shortRateWindowMs);
    this.services = new SlidingWindow(options.statsWindowMs);
    this.waits = new SlidingWindow(options.statsWindowMs);
  }

  arrived(now: number): void {
    this.arrivals.push(now);
    this.recentArrivals?.push(now);
  }

  started(now: number, waitMs: number): void {
    this.waits.push(now, waitMs);
  }

  completed(now: number, serviceMs: number): void {
    this.services.push(now, serviceMs);
  }

  observe(now: number, backlog: number, inFlight: number): Observation {
    this.services.advance(now);
    this.waits.advance(now);
    // An idle window says nothing new about service time: keep the last known.
    this.lastServiceMs = this.services.mean() ?? this.lastServiceMs;
    return {
      arrivalRate: Math.max(this.rate(this.arrivals, now), this.recentArrivals ? this.rate(this.recentArrivals, now) : 0),
      serviceMs: this.lastServiceMs,
      backlog,
      inFlight,
      waitP95Ms: this.waits.count >= this.options.minWaitSamples ? this.waits.quantile(0.95) : undefined,
    };
  }

  private rate(window: SlidingWindow, now: number): number {
    window.advance(now);
    // Early in a run the window is not full yet: divide by the time observed.
    const seconds = Math.min(window.windowMs, now - this.startedAt) / 1000;
    return seconds > 0 ? window.count / seconds : 0;
  }
}
