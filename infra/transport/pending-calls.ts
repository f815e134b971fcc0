import { EventEmitter, once } from 'node:events';
import { BoundedSet } from '../bounded-set.js';
import type { Reply } from '../protocol.js';
import { Deadlines } from './deadlines.js';
import type { DeliveryStats } from './types.js';

/** What every transport keeps of a call waiting for its reply. */
export interface PendingCall {
  resolve: (reply: Reply) => void;
  reject: (err: Error) => void;
  /** How long the caller waits for the reply. */
  timeoutMs: number;
}

/** How many timed-out ids to remember for telling a late reply from a duplicate one. */
const TIMED_OUT_MEMORY = 10_000;

/**
 * The calls of one RPC client waiting for their reply, by correlation id: each
 * is settled once (answered, failed or timed out), and a reply that finds no
 * call is counted as late (its call timed out) or as a duplicate. A call
 * not settled within its timeout fails with the error `expire` gives (which
 * may also clean up after it); the timeouts share one timer (deadlines.ts).
 */
export class PendingCalls<C extends PendingCall> {
  private readonly calls = new Map<string, C>();
  /** Calls that timed out, most recent last: a reply for one of them is late, any other unknown one a duplicate. */
  private readonly timedOut = new BoundedSet<string>(TIMED_OUT_MEMORY);
  private readonly idle = new EventEmitter();
  private readonly deadlines: Deadlines<string>;

  /** `now` is a monotonic clock in ms (tests pass a fake one). */
  constructor(
    private readonly stats: DeliveryStats,
    expire: (id: string, call: C) => Error,
    now: () => number = () => performance.now(),
  ) {
    this.deadlines = new Deadlines((id) => {
      const call = this.calls.get(id);
      if (call) this.timeOut(id, expire(id, call));
    }, now);
  }

  get size(): number {
    return this.calls.size;
  }

  /** Waits for the call's reply until `startedAt` (on the `now` clock) plus its timeout. */
  add(id: string, call: C, startedAt?: number): void {
    this.calls.set(id, call);
    this.deadlines.add(id, call.timeoutMs, startedAt);
  }

  has(id: string): boolean {
    return this.calls.has(id);
  }

  entries(): IterableIterator<[string, C]> {
    return this.calls.entries();
  }

  /** Hands the reply to its call; a reply for no waiting call is counted as late or duplicate. */
  answer(id: string, reply: Reply): void {
    const call = this.calls.get(id);
    if (!call) {
      this.countStray(id);
      return;
    }
    this.forget(id, call);
    this.stats.answered++;
    call.resolve(reply);
  }

  /** Counts a reply that found no waiting call. */
  countStray(id: string): void {
    if (this.timedOut.has(id)) this.stats.lateReplies++;
    else this.stats.duplicatesSuppressed++;
  }

  /** Fails the call, if it still waits. */
  fail(id: string, err: Error): void {
    const call = this.calls.get(id);
    if (!call) return;
    this.forget(id, call);
    call.reject(err);
  }

  /** Fails the call with its timeout, remembering the id so that its reply, should it come, counts as late. */
  timeOut(id: string, err: Error): void {
    this.timedOut.add(id);
    this.fail(id, err);
  }

  /**
   * Its caller aborted it: fails it with `err`, and remembers the id as a
   * timed-out one, so that a reply that comes anyway counts as late. Returns
   * whether it still waited.
   */
  abort(id: string, err: Error): boolean {
    if (!this.calls.has(id)) return false;
    this.timeOut(id, err);
    return true;
  }

  /** Resolves once no call waits any more. */
  async whenIdle(): Promise<void> {
    if (this.calls.size > 0) await once(this.idle, 'idle');
  }

  private forget(id: string, call: C): void {
    this.calls.delete(id);
    this.deadlines.delete(id, call.timeoutMs);
    if (this.calls.size === 0) this.idle.emit('idle');
  }
}
