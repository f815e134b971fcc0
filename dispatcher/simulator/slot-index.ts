import type { SimWorker } from './sim-worker.js';

/**
 * Workers with a free slot, bucketed by how many requests they run
 * (buckets[k] holds those with k in flight), so that the least busy one is
 * found in O(concurrency) instead of a scan of every worker per arrival.
 * Sets keep insertion order, which keeps the choice deterministic.
 */
export class SlotIndex {
  private readonly buckets: Set<SimWorker>[];

  constructor(readonly concurrency: number) {
    this.buckets = Array.from({ length: concurrency }, () => new Set<SimWorker>());
  }

  add(worker: SimWorker): void {
    if (worker.inFlight < this.concurrency) this.buckets[worker.inFlight]!.add(worker);
  }

  delete(worker: SimWorker): void {
    if (worker.inFlight < this.concurrency) this.buckets[worker.inFlight]!.delete(worker);
  }

  leastBusy(): SimWorker | undefined {
    for (const bucket of this.buckets) {
      for (const worker of bucket) return worker;
    }
    return undefined;
  }
}
