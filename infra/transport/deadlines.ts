/**
 * The deadlines of many calls on one timer, where each call had its own
 * setTimeout (arming and clearing one per request was a few percent of the
 * producer's CPU). Calls are kept in lanes by their timeout: within a lane
 * they arrive in deadline order, so the due ones are always at its head, and
 * adding or forgetting one is a Map operation. A call that comes out of order
 * (it waited for a channel before it was added) goes to a small unordered set
 * that every sweep scans. The one timer is set for the earliest head; it
 * seldom moves, since a new call's deadline is later than the ones before it.
 * It fires at the same time as a timer per call would have, and is cleared
 * when nothing waits (a waiting call keeps the process alive, as before).
 */
export class Deadlines<K> {
  /** timeout ms -> (key -> due), in due order. */
  private readonly lanes = new Map<number, { due: Map<K, number>; last: number }>();
  private readonly stragglers = new Map<K, number>();
  private timer: NodeJS.Timeout | undefined;
  private timerDue = Infinity;

  /**
   * @param expire called once for each key whose deadline has passed (it is forgotten first)
   * @param now a monotonic clock in ms
   */
  constructor(
    private readonly expire: (key: K) => void,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Expires `key` at `startedAt + timeoutMs` (clock ms), unless forgotten first. */
  add(key: K, timeoutMs: number, startedAt = this.now()): void {
    const due = startedAt + timeoutMs;
    let lane = this.lanes.get(timeoutMs);
    if (!lane) {
      lane = { due: new Map(), last: -Infinity };
      this.lanes.set(timeoutMs, lane);
    }
    if (due >= lane.last) {
      lane.due.set(key, due);
      lane.last = due;
    } else {
      this.stragglers.set(key, due);
    }
    if (due < this.timerDue) this.arm(due);
  }

  /** Forgets `key` (its call settled), given the timeout it was added with. */
  delete(key: K, timeoutMs: number): void {
    const lane = this.lanes.get(timeoutMs);
    if (!lane?.due.delete(key)) this.stragglers.delete(key);
    else if (lane.due.size === 0) this.lanes.delete(timeoutMs);
    if (this.lanes.size === 0 && this.stragglers.size === 0) this.disarm();
  }

  private arm(due: number): void {
    clearTimeout(this.timer);
    this.timerDue = due;
    this.timer = setTimeout(() => this.sweep(), Math.max(1, Math.ceil(due - this.now())));
  }

  private disarm(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerDue = Infinity;
  }

  private sweep(): void {
    this.timer = undefined;
    this.timerDue = Infinity;
    const now = this.now();
    const expired: K[] = [];
    for (const [timeoutMs, lane] of this.lanes) {
      for (const [key, due] of lane.due) {
        if (due > now) break;
        lane.due.delete(key);
        expired.push(key);
      }
      if (lane.due.size === 0) this.lanes.delete(timeoutMs);
    }
    for (const [key, due] of this.stragglers) {
      if (due > now) continue;
      this.stragglers.delete(key);
      expired.push(key);
    }
    for (const key of expired) this.expire(key);
    const next = this.earliest();
    if (next < Infinity && next < this.timerDue) this.arm(next);
  }

  private earliest(): number {
    let earliest = Infinity;
    for (const lane of this.lanes.values()) {
      const head = lane.due.values().next();
      if (!head.done && head.value < earliest) earliest = head.value;
    }
    for (const due of this.stragglers.values()) earliest = Math.min(earliest, due);
    return earliest;
  }
}
