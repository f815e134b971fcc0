import type { WorkerRole } from '../../infra/runtime/types.js';
import type { PoolView } from '../policy/index.js';

/** One worker as the control step sees it; the live pool and the simulator both describe theirs so. */
export interface MemberView {
  workerId: string;
  role: WorkerRole;
  state: 'starting' | 'active' | 'draining';
  /** Requests it holds, as last reported. */
  inFlight: number;
}

/** Regular workers by state, and the spares that are consuming. Draining workers are not capacity. */
export function poolView(members: readonly MemberView[]): PoolView {
  let active = 0;
  let starting = 0;
  let spares = 0;
  for (const m of members) {
    if (m.state === 'draining') continue;
    if (m.role === 'spare') spares += m.state === 'active' ? 1 : 0;
    else if (m.state === 'active') active++;
    else starting++;
  }
  return { active, starting, spares };
}

/**
 * Which workers to take out first: those still starting, newest first (they
 * hold nothing and cost least to cancel), then the least busy, oldest first
 * among equals (members are given in start order).
 */
export function pickVictims(candidates: readonly MemberView[], count: number): MemberView[] {
  if (count <= 0) return [];
  const starting = candidates.filter((m) => m.state === 'starting').reverse();
  const active = candidates.filter((m) => m.state === 'active').map((m, order) => ({ m, order }));
  active.sort((a, b) => a.m.inFlight - b.m.inFlight || a.order - b.order);
  return [...starting, ...active.map((a) => a.m)].slice(0, count);
}
