import { describe, expect, it } from 'vitest';
import { BurstMemory } from '../../dispatcher/control/burst-memory.js';
import { ControlStep } from '../../dispatcher/control/control-step.js';
import { pickVictims, type MemberView } from '../../dispatcher/control/members.js';
import { Stabilizer } from '../../dispatcher/control/stabilizer.js';
import { defaultPolicyConfig, type Observation, type Policy, type PolicyConfig } from '../../dispatcher/policy/index.js';

const config: PolicyConfig = { ...defaultPolicyConfig, min: 1, max: 20, maxStepUp: 4, maxStepDown: 1, scaleDownShare: 0.5, scaleDownStabilizationMs: 10_000 };
const observation: Observation = { arrivalRate: 0, serviceMs: 50, backlog: 0, backlogGrowth: 0, inFlight: 0, waitP95Ms: undefined };
const sizing = (workers: number, steady = workers) => ({ workers, steady, reason: 'test' });

describe('stabilizer', () => {
  it.each([
    // [what, current, sizing, desired]
    ['scales up at once', 2, sizing(5), 5],
    ['adds at most max(maxStepUp, current) in one decision', 2, sizing(50), 6],
    ['may double a large pool in one decision', 10, sizing(50), 20],
    ['keeps within max', 15, sizing(100), 20],
    ['comes up to min', 0, sizing(0), 1],
    ['takes out at most half the pool in one decision', 100, sizing(10), 50],
    ['takes out at least maxStepDown', 2, sizing(1), 1],
  ])('%s', (_what, current, s, desired) => {
    expect(new Stabilizer(config).decide(s, current, 0).desired).toBe(desired);
  });

  it('holds every scale-down for a whole window after any increase, then comes down in proportion', () => {
    const stabilizer = new Stabilizer(config);
    expect(stabilizer.decide(sizing(20), 10, 0).desired).toBe(20);
    expect(stabilizer.decide(sizing(4), 20, 1_000).desired).toBe(20); // 1 s after the increase
    expect(stabilizer.decide(sizing(4), 20, 9_999).desired).toBe(20);
    // The window has passed; the steady need it remembers is 4 at most: down by half, then to 4.
    expect(stabilizer.decide(sizing(4), 20, 10_000).desired).toBe(10);
    expect(stabilizer.decide(sizing(4), 10, 11_000).desired).toBe(5);
    expect(stabilizer.decide(sizing(4), 5, 12_000).desired).toBe(4);
  });

  it('with the default settings, brings a pool of 270 back to 30 in four decisions', () => {
    const stabilizer = new Stabilizer({ ...defaultPolicyConfig, max: 1000 });
    const sizes = [270];
    for (let tick = 1; tick <= 4; tick++) sizes.push(stabilizer.decide(sizing(30), sizes.at(-1)!, tick * 250).desired);
    expect(sizes).toEqual([270, 135, 68, 34, 30]);
  });

  it('comes down only to the highest steady need of the window', () => {
    const stabilizer = new Stabilizer(config);
    stabilizer.decide(sizing(6), 6, 0);
    expect(stabilizer.decide(sizing(2), 6, 5_000)).toMatchObject({ desired: 6 });
    expect(stabilizer.decide(sizing(2), 6, 10_000)).toMatchObject({ desired: 3 }); // 6 has left the window; by half
  });

  it('remembers the steady need, not a backlog surge', () => {
    const stabilizer = new Stabilizer({ ...config, scaleDownStabilizationMs: 0 });
    expect(stabilizer.decide(sizing(10, 3), 4, 0)).toMatchObject({ desired: 8, recommendation: 3 });
  });

  it('counts an increase made outside it (a promoted spare) as one', () => {
    const stabilizer = new Stabilizer(config);
    stabilizer.increased(0);
    expect(stabilizer.decide(sizing(1), 5, 5_000).desired).toBe(5);
    expect(stabilizer.decide(sizing(1), 5, 10_000).desired).toBe(3);
  });
});

const member = (workerId: string, fields: Partial<MemberView> = {}): MemberView => ({ workerId, role: 'worker', state: 'active', inFlight: 0, ...fields });
const fixed = (workers: number): Policy => () => sizing(workers);

describe('control step', () => {
  it('promotes a spare saturated in 3 observations in a row, and remembers it as an increase', () => {
    const step = new ControlStep({ policy: fixed(1), config, promoteAfter: 3 });
    const members = (spareInFlight: number) => [member('w', { inFlight: 4 }), member('s', { role: 'spare', inFlight: spareInFlight })];
    expect(step.step(0, observation, members(2)).promote).toEqual([]); // some overflow is a spare's job
    expect(step.step(1_000, observation, members(4)).promote).toEqual([]);
    expect(step.step(2_000, observation, members(4)).promote).toEqual([]);
    const plan = step.step(3_000, observation, members(4));
    expect(plan.promote).toEqual([{ workerId: 's', saturated: true }]);
    expect(plan.decision.desired).toBe(2);
    expect(plan.decision.reason).toContain('saturated');
    // The policy still says 1, but no scale-down within the window after the promotion.
    const after = step.step(4_000, observation, [member('w'), member('s')]);
    expect(after.retire).toEqual([]);
    expect(after.decision.desired).toBe(2);
  });

  it('never promotes past max: a static pool keeps its spare a spare', () => {
    const step = new ControlStep({ policy: fixed(1), config: { ...config, min: 1, max: 1 }, promoteAfter: 1 });
    const plan = step.step(0, observation, [member('w', { inFlight: 4 }), member('s', { role: 'spare', inFlight: 4 })]);
    expect(plan.promote).toEqual([]);
    expect(plan.decision.desired).toBe(1);
  });

  it('grows with ready spares first, then new workers', () => {
    const step = new ControlStep({ policy: fixed(4), config, promoteAfter: 3 });
    const plan = step.step(0, observation, [member('w'), member('s1', { role: 'spare' }), member('s2', { role: 'spare', state: 'starting' })]);
    expect(plan.promote).toEqual([{ workerId: 's1', saturated: false }]);
    expect(plan.start).toBe(2);
    expect(plan.retire).toEqual([]);
  });

  it('retires workers still starting first, newest first, then the least busy; draining ones and spares are not counted', () => {
    const step = new ControlStep({ policy: fixed(2), config, promoteAfter: 3 });
    const members = [
      member('a', { inFlight: 3 }), member('b', { inFlight: 1 }), member('c', { inFlight: 0 }), member('d', { state: 'draining' }),
      member('e', { state: 'starting' }), member('f', { state: 'starting' }), member('s', { role: 'spare' }),
    ];
    const plan = step.step(0, observation, members);
    expect(plan.pool).toEqual({ active: 3, starting: 2, spares: 1 });
    // 5 -> 2 is more than half of 5 in one decision: 5 - max(1, floor(2.5)) = 3.
    expect(plan.decision.desired).toBe(3);
    expect(plan.retire).toEqual(['f', 'e']);
    expect(pickVictims(members.filter((m) => m.role === 'worker' && m.state !== 'draining'), 4).map((m) => m.workerId)).toEqual(['f', 'e', 'c', 'b']);
  });
});

describe('adaptive spares (burst memory)', () => {
  it('keeps warm headroom for the largest surge of the memory, then lets it go', () => {
    const memory = new BurstMemory({ ...config, burstMemoryMs: 60_000, concurrency: 4 });
    const seen = { ...observation, serviceMs: 50 };
    // 400/s beyond what the pool served x 50 ms = 20 slots: 5 workers of 4.
    expect(memory.apply({ ...sizing(10), surge: 400 }, seen, 0)).toMatchObject({ workers: 15, steady: 15 });
    expect(memory.apply({ ...sizing(2), surge: 40 }, seen, 30_000)).toMatchObject({ workers: 7 });
    expect(memory.apply(sizing(2), seen, 59_999).reason).toContain('+5 warm for the 400/s surge 60s ago');
    expect(memory.apply(sizing(2), seen, 60_000)).toMatchObject({ workers: 3 }); // the 40/s surge: 2 slots, 1 worker
    expect(memory.apply(sizing(2), seen, 90_000)).toMatchObject({ workers: 2 });
  });

  it('is off by default', () => {
    expect(new BurstMemory(defaultPolicyConfig).apply({ ...sizing(2), surge: 400 }, observation, 0).workers).toBe(2);
  });
});
