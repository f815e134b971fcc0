import type { Member, MemberState } from '../infra/pool-status.js';
import type { WorkerHandle } from '../infra/runtime/types.js';

/** A member has the shape the pool status shows (infra/pool-status.ts): the status lists the members as tracked. */
export type { Member, MemberState };

export function member(handle: WorkerHandle, state: MemberState): Member {
  return { workerId: handle.workerId, role: handle.role, state, inFlight: 0, startedAt: handle.startedAt, runtimeId: handle.runtimeId };
}
