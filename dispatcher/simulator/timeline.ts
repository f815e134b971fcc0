import { WaitSample } from './quantiles.js';

export interface TimelineBucket {
  /** Bucket start, seconds from the start of the run. */
  startS: number;
  arrivalsPerS: number;
  /** Most regular workers (active + starting) seen at a control tick in the bucket. */
  workers: number;
  /** p95 wait of the requests that arrived in the bucket, ms; undefined if none arrived. */
  waitP95Ms: number | undefined;
}

/** A coarse picture of a run, per fixed bucket, for printing next to the table. */
export class Timeline {
  private readonly arrivals: number[] = [];
  private readonly workers: number[] = [];
  private readonly waits: WaitSample[] = [];

  constructor(readonly bucketMs: number) {}

  arrival(at: number): void {
    const b = this.bucket(at);
    this.arrivals[b] = (this.arrivals[b] ?? 0) + 1;
  }

  /** Waits are filed under the bucket the request arrived in. */
  wait(arrivedAt: number, waitMs: number): void {
    const b = this.bucket(arrivedAt);
    (this.waits[b] ??= new WaitSample()).add(waitMs);
  }

  workersAt(at: number, regular: number): void {
    const b = this.bucket(at);
    this.workers[b] = Math.max(this.workers[b] ?? 0, regular);
  }

  buckets(endMs: number): TimelineBucket[] {
    const count = Math.max(1, Math.ceil(endMs / this.bucketMs));
    const out: TimelineBucket[] = [];
    let lastWorkers = 0;
    for (let b = 0; b < count; b++) {
      lastWorkers = this.workers[b] ?? lastWorkers;
      out.push({
        startS: (b * this.bucketMs) / 1000,
        arrivalsPerS: (this.arrivals[b] ?? 0) / (this.bucketMs / 1000),
        workers: lastWorkers,
        waitP95Ms: this.waits[b]?.quantile(0.95),
      });
    }
    return out;
  }

  private bucket(at: number): number {
    return Math.floor(at / this.bucketMs);
  }
}
