import type { WorkerRole } from '../../infra/runtime/types.js';
import type { MemberView } from '../control/members.js';
import { SlotIndex } from './slot-index.js';
import type { SimWorker } from './sim-worker.js';

export type { SimWorker, WorkerState } from './sim-worker.js';


/**
 * The simulated pool's bookkeeping, without time or events: worker states,
 * slots, spares, and the counts the policy and the metrics need.
 *
 * Regular workers take work first; spares only when no regular worker has a
 * free slot (RabbitMQ consumer priorities). Each role has its own index of
 * workers with free slots.
 */
export class PoolModel {
  readonly all: SimWorker[] = [];
  private readonly live = new Set<SimWorker>();
  private readonly freeRegular: SlotIndex;
  private readonly freeSpare: SlotIndex;
  private regularActive = 0;
  private regularStarting = 0;
  /** Workers of any role not consuming yet. */
  private startingTotal = 0;
  private busy = 0;
  // Time-weighted count of regular (active + starting) workers, for the mean.
  private regularMs = 0;
  private lastChangeAt = 0;
  maxRegular = 0;

  constructor(readonly concurrency: number) {
    this.freeRegular = new SlotIndex(concurrency);
    this.freeSpare = new SlotIndex(concurrency);
  }

  /** Workers of any role still starting, the one just started included. */
  get startingCount(): number {
    return this.startingTotal;
  }

  /** Every live worker, in start order, as the control step sees it. */
  members(): MemberView[] {
    const members: MemberView[] = [];
    for (const w of this.live) if (w.state !== 'removed') members.push({ workerId: w.workerId, role: w.role, state: w.state, inFlight: w.inFlight });
    return members;
  }

  byWorkerId(workerId: string): SimWorker | undefined {
    return this.all[Number(workerId.slice(1))];
  }

  get regular(): number {
    return this.regularActive + this.regularStarting;
  }

  /** Busy slots over all workers, spares and draining ones included. */
  get inFlight(): number {
    return this.busy;
  }

  /** Workers not removed yet, of any role and state. */
  get liveCount(): number {
    return this.live.size;
  }

  start(role: WorkerRole, now: number): SimWorker {
    const id = this.all.length;
    const worker: SimWorker = { id, workerId: `w${id}`, role, state: 'starting', inFlight: 0, startedAt: now, removedAt: undefined };
    this.all.push(worker);
    this.live.add(worker);
    this.startingTotal++;
    if (role === 'worker') this.countRegular(now, 0, +1);
    return worker;
  }

  /** A started worker begins consuming. Ignored if it was cancelled meanwhile. */
  ready(worker: SimWorker, now: number): boolean {
    if (worker.state !== 'starting') return false;
    worker.state = 'active';
    this.startingTotal--;
    if (worker.role === 'worker') this.countRegular(now, +1, -1);
    this.index(worker);
    return true;
  }

  /** The regular active worker with the fewest requests in flight, if any has a free slot. */
  leastBusyRegular(): SimWorker | undefined {
    return this.freeRegular.leastBusy();
  }

  /** A ready spare with a free slot: it takes the overflow. */
  leastBusySpare(): SimWorker | undefined {
    return this.freeSpare.leastBusy();
  }

  /** A spare becomes a regular worker: the load is above what the regular workers carry. */
  promote(spare: SimWorker, now: number): void {
    this.unindex(spare);
    spare.role = 'worker';
    this.countRegular(now, +1, 0);
    this.index(spare);
  }

  hasFreeSlot(worker: SimWorker): boolean {
    return worker.state === 'active' && worker.inFlight < this.concurrency;
  }

  /** One more request on a worker with a free slot. */
  assign(worker: SimWorker): void {
    this.unindex(worker);
    worker.inFlight++;
    this.busy++;
    this.index(worker);
  }

  /** A request finished. A draining worker is removed once it runs nothing. */
  release(worker: SimWorker, now: number): void {
    this.unindex(worker);
    worker.inFlight--;
    this.busy--;
    if (worker.state === 'draining' && worker.inFlight === 0) this.remove(worker, now);
    else this.index(worker);
  }

  /** Takes a regular worker out: one still starting is cancelled at once, an active one drains. */
  retire(worker: SimWorker, now: number): void {
    if (worker.role !== 'worker' || (worker.state !== 'starting' && worker.state !== 'active')) return;
    if (worker.state === 'starting') {
      this.countRegular(now, 0, -1);
      this.startingTotal--;
      this.remove(worker, now);
      return;
    }
    this.unindex(worker);
    this.countRegular(now, -1, 0);
    worker.state = 'draining';
    if (worker.inFlight === 0) this.remove(worker, now);
  }

  /** Worker-seconds: every worker, spares included, from its start request to removal or `end`. */
  workerSeconds(end: number): number {
    let ms = 0;
    for (const w of this.all) ms += (w.removedAt ?? end) - w.startedAt;
    return ms / 1000;
  }

  meanRegular(end: number): number {
    const total = this.regularMs + this.regular * (end - this.lastChangeAt);
    return end > 0 ? total / end : this.regular;
  }

  private remove(worker: SimWorker, now: number): void {
    worker.state = 'removed';
    worker.removedAt = now;
    this.live.delete(worker);
  }

  private countRegular(now: number, active: number, starting: number): void {
    this.regularMs += this.regular * (now - this.lastChangeAt);
    this.lastChangeAt = now;
    this.regularActive += active;
    this.regularStarting += starting;
    this.maxRegular = Math.max(this.maxRegular, this.regular);
  }

  private index(worker: SimWorker): void {
    if (worker.state !== 'active') return;
    (worker.role === 'worker' ? this.freeRegular : this.freeSpare).add(worker);
  }

  private unindex(worker: SimWorker): void {
    (worker.role === 'worker' ? this.freeRegular : this.freeSpare).delete(worker);
  }
}
