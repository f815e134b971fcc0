import type { Decision, Observation, Policy, PolicyConfig, PoolView } from '../policy/index.js';
import { pickVictims, poolView, type MemberView } from './members.js';
import { BurstMemory } from './burst-memory.js';
import { Stabilizer } from './stabilizer.js';

/** A spare that takes some overflow is doing its job; one busy in this many observations in a row means the pool is short. */
export const PROMOTE_AFTER_OBSERVATIONS = 3;

export interface ControlStepOptions {
  policy: Policy;
  config: PolicyConfig;
  /** A spare is promoted after it has had every slot busy in this many observations in a row. */
  promoteAfter: number;
}

/** What one control step asks of the pool; the live pool and the simulator carry it out alike. */
export interface Plan {
  at: number;
  observation: Observation;
  /** The pool as the step saw it. */
  pool: PoolView;
  decision: Decision;
  /** Spares that become regular workers: saturated ones, then ready ones for growth (the pool refills its spares). */
  promote: { workerId: string; saturated: boolean }[];
  /** New regular workers to start. */
  start: number;
  /** Regular workers to take out: cancelled if still starting, drained otherwise. */
  retire: string[];
}

/**
 * One control step, pure: sizing by the policy, then bounds and the
 * scale-down window (Stabilizer), promotion of saturated spares (capped at
 * max), and the choice of who grows the pool and who leaves it. The live
 * autoscaler and the simulator both run their pools through this class, so
 * the simulator vouches for the dispatcher's real decisions.
 */
export class ControlStep {
  private readonly stabilizer: Stabilizer;
  private readonly bursts: BurstMemory;
  /** Spares' observations in a row with every slot busy. */
  private readonly busyStreaks = new Map<string, number>();

  constructor(private readonly options: ControlStepOptions) {
    this.stabilizer = new Stabilizer(options.config);
    this.bursts = new BurstMemory(options.config);
  }

  step(now: number, observation: Observation, members: readonly MemberView[]): Plan {
    const { policy, config } = this.options;
    const pool = poolView(members);
    const current = pool.active + pool.starting;
    const live = members.filter((m) => m.state !== 'draining');
    const readySpares = live.filter((m) => m.role === 'spare' && m.state === 'active');

    // Some overflow is a spare's job; a spare whose every slot stays busy means the pool is short.
    const saturated = this.saturatedSpares(readySpares).slice(0, Math.max(0, config.max - current));
    const sizing = this.bursts.apply(policy(observation, pool, config, now), observation, now);
    let decision = this.stabilizer.decide(sizing, current, now);
    if (saturated.length > 0) {
      this.stabilizer.increased(now);
      if (decision.desired < current + saturated.length) {
        const desired = current + saturated.length;
        decision = { ...decision, desired, reason: `${current} -> ${desired}: ${saturated.length} spare(s) saturated for ${this.options.promoteAfter} observations: promoted (the policy said ${decision.desired})` };
      }
    }

    const promote = saturated.map((m) => ({ workerId: m.workerId, saturated: true }));
    let missing = decision.desired - current - promote.length;
    // Growing: ready spares first (they already consume), then new workers.
    for (const spare of readySpares) {
      if (missing <= 0) break;
      if (promote.some((p) => p.workerId === spare.workerId)) continue;
      promote.push({ workerId: spare.workerId, saturated: false });
      missing--;
    }
    for (const p of promote) this.busyStreaks.delete(p.workerId);
    const regular = live.filter((m) => m.role === 'worker');
    const retire = pickVictims(regular, current - decision.desired).map((m) => m.workerId);
    return { at: now, observation, pool, decision, promote, start: Math.max(0, missing), retire };
  }

  private saturatedSpares(readySpares: readonly MemberView[]): MemberView[] {
    const { config, promoteAfter } = this.options;
    const seen = new Set<string>();
    const saturated: MemberView[] = [];
    for (const spare of readySpares) {
      seen.add(spare.workerId);
      const streak = spare.inFlight >= config.concurrency ? (this.busyStreaks.get(spare.workerId) ?? 0) + 1 : 0;
      this.busyStreaks.set(spare.workerId, streak);
      if (streak >= promoteAfter) saturated.push(spare);
    }
    for (const id of this.busyStreaks.keys()) if (!seen.has(id)) this.busyStreaks.delete(id);
    return saturated;
  }
}
