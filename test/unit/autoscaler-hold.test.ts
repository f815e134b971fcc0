import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Autoscaler, type Tick } from '../../dispatcher/autoscaler.js';
import type { Plan } from '../../dispatcher/control/control-step.js';
import type { MemberView } from '../../dispatcher/control/members.js';
import type { Sample } from '../../dispatcher/metrics/types.js';
import { defaultWindowOptions } from '../../dispatcher/metrics/window.js';
import { policies } from '../../dispatcher/policy/index.js';
import { comparisonConfig } from '../../dispatcher/simulator/defaults.js';

/**
 * On BullMQ, Redis holds the queue and the worker reports: while it is down
 * the queue reads as zeros. The metrics source marks such a sample blind, and
 * the autoscaler holds the pool instead of shrinking it, saying so once.
 */
const FOUR_WORKERS: MemberView[] = ['w1', 'w2', 'w3', 'w4'].map((workerId) => ({ workerId, role: 'worker', state: 'active', inFlight: 0 }));
const IDLE = { ready: 0, unacked: 0, consumers: 4, publishRate: undefined, source: 'bullmq' } as const;
const BLIND = 'queue depth unreadable (Redis is not connected (reconnecting))';

function autoscalerOver(samples: (at: number) => Sample) {
  const applied: Plan[] = [];
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
  const autoscaler = new Autoscaler({
    pool: { observe: () => undefined, members: () => FOUR_WORKERS.map((m) => ({ ...m })), apply: async (plan) => void applied.push(plan) },
    metrics: { sample: async (at) => samples(at) },
    policy: policies['target-wait'],
    // Shrinks at once when idle: no scale-down window.
    config: { ...comparisonConfig, min: 1, max: 8, scaleDownStabilizationMs: 0 },
    promoteAfter: 3,
    window: defaultWindowOptions,
    intervalMs: 1_000_000, // ticks are driven by hand
    logger,
  });
  const messages = () => lines.map((l) => (JSON.parse(l) as { msg: string }).msg);
  return { autoscaler, applied, messages };
}

async function tickEvery250ms(autoscaler: Autoscaler, from: number, to: number): Promise<Tick[]> {
  const ticks: Tick[] = [];
  for (let at = from; at < to; at += 250) ticks.push(await autoscaler.tick(at));
  return ticks;
}

describe('the autoscaler without the queue\'s figures', () => {
  it('control: idle figures of a readable queue shrink the pool of 4', async () => {
    const { autoscaler, applied } = autoscalerOver((at) => ({ at, queue: IDLE, reports: [] }));
    autoscaler.start();
    await tickEvery250ms(autoscaler, 0, 5000);
    autoscaler.stop();
    expect(applied.some((p) => p.retire.length > 0)).toBe(true);
  });

  it('holds the pool while the samples are blind (nothing started, promoted or retired), warns once, and scales again when they come back', async () => {
    // Blind from 1 s to 6 s (the same zeros, marked unreadable), readable before and after.
    const blind = (at: number) => at >= 1000 && at < 6000;
    const { autoscaler, applied, messages } = autoscalerOver((at) => ({ at, queue: IDLE, reports: blind(at) ? undefined : [], ...(blind(at) ? { blind: BLIND } : {}) }));
    autoscaler.start();
    const before = await tickEvery250ms(autoscaler, 0, 1000);
    const appliedBefore = applied.length;
    const during = await tickEvery250ms(autoscaler, 1000, 6000);
    expect(applied.length).toBe(appliedBefore); // no plan applied during the outage
    for (const tick of during) {
      expect(tick).toMatchObject({ held: BLIND, changed: false, start: 0, promote: [], retire: [], decision: { desired: 4 } });
      expect(tick.decision.reason).toBe(`holding 4: ${BLIND}`);
    }
    expect(during[0]!.observation).toEqual(before.at(-1)!.observation); // the last real observation, not the blind zeros

    const after = await tickEvery250ms(autoscaler, 6000, 9000);
    autoscaler.stop();
    expect(after.every((t) => t.held === undefined)).toBe(true);
    expect(applied.length).toBeGreaterThan(appliedBefore); // idle again and readable: it scales again

    const log = messages();
    expect(log.filter((m) => m === 'holding the pool at 4 until the queue\'s figures are back')).toHaveLength(1);
    expect(log.filter((m) => m === 'the queue\'s figures are back: scaling again')).toHaveLength(1);
  });
});
