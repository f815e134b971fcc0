import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Reply } from '../../infra/protocol.js';
import { PendingCalls, type PendingCall } from '../../infra/transport/pending-calls.js';
import type { DeliveryStats } from '../../infra/transport/types.js';

const reply = { ok: true, result: 1 } as unknown as Reply;
const newStats = (): DeliveryStats => ({ calls: 0, confirmed: 0, republished: 0, answered: 0, duplicatesSuppressed: 0, lateReplies: 0 });

/** Calls that time out with "timed out <id>", on the (faked) Date.now clock. */
const newPending = (stats: DeliveryStats) => new PendingCalls<PendingCall>(stats, (id) => new Error(`timed out ${id}`), () => Date.now());

/** Adds a call that times out after `ms`; returns its outcome. */
function addCall(pending: PendingCalls<PendingCall>, id: string, ms = 1000): Promise<Reply> {
  return new Promise<Reply>((resolve, reject) => pending.add(id, { resolve, reject, timeoutMs: ms }));
}

describe('PendingCalls', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('hands a reply to its call once, and counts a second one as a duplicate', async () => {
    const stats = newStats();
    const pending = newPending(stats);
    const call = addCall(pending, 'a');
    pending.answer('a', reply);
    pending.answer('a', reply);
    await expect(call).resolves.toBe(reply);
    expect(pending.size).toBe(0);
    expect(stats).toMatchObject({ answered: 1, duplicatesSuppressed: 1, lateReplies: 0 });
  });

  it('counts a reply after its call timed out as late, and one for an unknown id as a duplicate', async () => {
    const stats = newStats();
    const pending = newPending(stats);
    const call = addCall(pending, 'slow', 50);
    const outcome = call.catch((err: Error) => err.message);
    vi.advanceTimersByTime(50);
    expect(await outcome).toBe('timed out slow');
    pending.answer('slow', reply);
    pending.countStray('never-sent');
    expect(stats).toMatchObject({ answered: 0, lateReplies: 1, duplicatesSuppressed: 1 });
  });

  it('a settled call stops its timer, and a failed one rejects once', async () => {
    const stats = newStats();
    const pending = newPending(stats);
    const answered = addCall(pending, 'a', 50);
    const failed = addCall(pending, 'b', 50).catch((err: Error) => err.message);
    pending.answer('a', reply);
    pending.fail('b', new Error('refused'));
    pending.fail('b', new Error('again'));
    vi.advanceTimersByTime(100);
    await expect(answered).resolves.toBe(reply);
    expect(await failed).toBe('refused');
    pending.answer('a', reply); // no timer marked it as timed out: a duplicate, not late
    expect(stats).toMatchObject({ answered: 1, lateReplies: 0, duplicatesSuppressed: 1 });
  });

  it('whenIdle waits for the last call to settle', async () => {
    const pending = newPending(newStats());
    await pending.whenIdle(); // none waiting: at once
    const first = addCall(pending, 'a');
    const second = addCall(pending, 'b').catch(() => undefined);
    expect([...pending.entries()].map(([id]) => id)).toEqual(['a', 'b']);
    let idle = false;
    const waiting = pending.whenIdle().then(() => (idle = true));
    pending.answer('a', reply);
    await first;
    expect(idle).toBe(false);
    pending.fail('b', new Error('gone'));
    await Promise.all([second, waiting]);
    expect(idle).toBe(true);
  });
});
