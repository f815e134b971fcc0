import type { WorkerRole } from '../infra/worker-role.js';
import type { LoggedEvent } from '../infra/pool-events.js';

export interface PoolRow {
  /** Seconds since the run started. */
  t: number;
  regular: number;
  spares: number;
  draining: number;
}

/**
 * Replays the dispatcher's event log (oldest first) into the pool's size per
 * second over a run: regular workers, spares, and workers draining. Pure.
 */
export function replayPool(events: readonly LoggedEvent[], startedAt: number, seconds: number): PoolRow[] {
  const state = new Map<string, { role: WorkerRole; draining: boolean }>();
  const ordered = [...events].sort((a, b) => a.at - b.at);
  const rows: PoolRow[] = [];
  let next = 0;
  for (let t = 0; t <= seconds; t++) {
    const until = startedAt + t * 1000;
    for (; next < ordered.length && ordered[next]!.at <= until; next++) apply(state, ordered[next]!);
    let regular = 0;
    let spares = 0;
    let draining = 0;
    for (const w of state.values()) {
      if (w.draining) draining++;
      else if (w.role === 'spare') spares++;
      else regular++;
    }
    rows.push({ t, regular, spares, draining });
  }
  return rows;
}

function apply(state: Map<string, { role: WorkerRole; draining: boolean }>, event: LoggedEvent): void {
  switch (event.type) {
    case 'started':
    case 'adopted':
      state.set(event.workerId, { role: event.role, draining: false });
      break;
    case 'promoted':
      state.set(event.workerId, { role: 'worker', draining: state.get(event.workerId)?.draining ?? false });
      break;
    case 'draining': {
      const w = state.get(event.workerId);
      state.set(event.workerId, { role: w?.role ?? event.role, draining: true });
      break;
    }
    case 'removed':
    case 'exited':
      state.delete(event.workerId);
      break;
    case 'decision':
      break;
  }
}
