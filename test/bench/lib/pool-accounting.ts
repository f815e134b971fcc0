import type { LoggedEvent } from '../../../infra/pool-events.js';

export interface PoolAccount {
  /** Every worker, spares included, from its start to its removal, within the run (the simulator's definition). */
  workerSeconds: number;
  /** Decisions that changed the pool's size within the run. */
  scaleEvents: number;
  /** Most regular workers (not spares, not draining) at once. */
  maxWorkers: number;
}

/**
 * Replays the dispatcher's event log (any order) over a run [from, to] (epoch
 * ms): worker-seconds, scale events and the largest pool. Pure.
 */
export function accountPool(events: readonly LoggedEvent[], from: number, to: number): PoolAccount {
  const ordered = [...events].sort((a, b) => a.at - b.at);
  const live = new Map<string, { since: number; role: 'worker' | 'spare'; draining: boolean }>();
  let ms = 0;
  let scaleEvents = 0;
  let maxWorkers = 0;
  const regular = () => [...live.values()].filter((w) => w.role === 'worker' && !w.draining).length;
  const close = (id: string, at: number) => {
    const w = live.get(id);
    if (w) ms += Math.max(0, Math.min(at, to) - Math.max(w.since, from));
    live.delete(id);
  };
  for (const e of ordered) {
    if (e.at > to) break;
    switch (e.type) {
      case 'started':
      case 'adopted':
        live.set(e.workerId, { since: e.at, role: e.role, draining: false });
        break;
      case 'promoted': {
        const w = live.get(e.workerId);
        if (w) w.role = 'worker';
        break;
      }
      case 'draining': {
        const w = live.get(e.workerId);
        if (w) w.draining = true;
        break;
      }
      case 'removed':
      case 'exited':
        close(e.workerId, e.at);
        break;
      case 'decision':
        if (e.at >= from) scaleEvents++;
        break;
    }
    if (e.at >= from) maxWorkers = Math.max(maxWorkers, regular());
    else maxWorkers = regular(); // the pool as the run found it
  }
  for (const id of [...live.keys()]) close(id, to);
  return { workerSeconds: ms / 1000, scaleEvents, maxWorkers };
}
