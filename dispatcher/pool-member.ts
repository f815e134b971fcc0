import type { WorkerHandle, WorkerRole } from '../infra/runtime/types.js';

/** 'starting': no report yet; 'active': consuming; 'draining': on its way out, no longer capacity. */
export type MemberState = 'starting' | 'active' | 'draining';

/** One worker of the pool as the dispatcher tracks it. */
export interface Member {
  workerId: string;
  role: WorkerRole;
  state: MemberState;
  inFlight: number;
  startedAt: number;
  runtimeId: string;
}

export function member(handle: WorkerHandle, state: MemberState): Member {
  return { workerId: handle.workerId, role: handle.role, state, inFlight: 0, startedAt: handle.startedAt, runtimeId: handle.runtimeId };
}
