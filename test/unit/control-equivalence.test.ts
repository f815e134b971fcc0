import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Autoscaler } from '../../dispatcher/autoscaler.js';
import type { Plan } from '../../dispatcher/control/control-step.js';
import type { MemberView } from '../../dispatcher/control/members.js';
import type { Sample } from '../../dispatcher/metrics/types.js';
import { defaultWindowOptions } from '../../dispatcher/metrics/window.js';
import { policies } from '../../dispatcher/policy/index.js';
import { comparisonConfig } from '../../dispatcher/simulator/defaults.js';
import { simulate } from '../../dispatcher/simulator/simulate.js';
import { burstsTrace } from '../../dispatcher/simulator/traces.js';

/**
 * The simulator vouches for the live dispatcher only if both decide alike.
 * A simulated run records every sample it fed its control loop, the members
 * it showed and the plan it got; the live Autoscaler, given the same samples
 * and members through its ports, must make the same plans, tick for tick.
 */
describe('live and simulated control', () => {
  it('take identical decisions from one sample sequence', async () => {
    const ticks: { sample: Sample; members: readonly MemberView[]; plan: Plan }[] = [];
    simulate({ trace: burstsTrace(), policyName: 'target-wait', onPlan: (sample, members, plan) => ticks.push({ sample: sample!, members, plan }) });
    expect(ticks.length).toBeGreaterThan(150);
    expect(ticks.filter((t) => t.plan.start > 0 || t.plan.retire.length > 0).length).toBeGreaterThanOrEqual(3);
    expect(ticks.some((t) => t.plan.promote.length > 0)).toBe(true);

    let i = 0;
    const applied: Plan[] = [];
    const autoscaler = new Autoscaler({
      pool: { observe: () => undefined, members: () => [...ticks[i]!.members], apply: async (plan) => void applied.push(plan) },
      metrics: { sample: async () => ticks[i]!.sample },
      policy: policies['target-wait'],
      config: comparisonConfig,
      promoteAfter: 3,
      window: defaultWindowOptions,
      intervalMs: 1000,
      logger: pino({ level: 'silent' }),
    });
    for (i = 0; i < ticks.length; i++) {
      const { changed: _changed, ...live } = await autoscaler.tick(ticks[i]!.sample.at);
      expect(live, `tick ${i} at ${ticks[i]!.sample.at} ms`).toEqual(ticks[i]!.plan);
    }
  });
});
