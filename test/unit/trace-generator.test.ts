import { describe, expect, it } from 'vitest';
import { generateTrace, type PieceKind } from '../../dispatcher/simulator/generator.js';

const SEEDS = [1, 2, 3, 4, 5, 6, 7, 8];

/** The rate every 100 ms over the whole trace. */
function samples(seed: number, scale = 1): number[] {
  const trace = generateTrace(seed, { scale });
  const out: number[] = [];
  for (let t = 0; t < trace.durationMs; t += 100) out.push(trace.rate(t));
  return out;
}

describe('trace generator', () => {
  it('gives the same trace for the same seed', () => {
    const a = generateTrace(7);
    const b = generateTrace(7);
    expect(a.name).toBe('gen-7');
    expect(a.durationMs).toBe(b.durationMs);
    expect(a.pieces).toEqual(b.pieces);
    expect(samples(7)).toEqual(samples(7));
  });

  it('gives different traces for different seeds', () => {
    const shapes = SEEDS.map((seed) => JSON.stringify(samples(seed)));
    expect(new Set(shapes).size).toBe(SEEDS.length);
  });

  it.each(SEEDS)('gen-%i keeps every rate within 0..maxRate, at x1 and x100', (seed) => {
    for (const scale of [1, 100]) {
      const trace = generateTrace(seed, { scale });
      const rates = samples(seed, scale);
      expect(Math.min(...rates)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...rates)).toBeLessThanOrEqual(trace.maxRate);
      // A loose bound makes arrivals costly to draw (thinning): the peak is most of it.
      expect(Math.max(...rates)).toBeGreaterThan(trace.maxRate * 0.5);
    }
  });

  it.each(SEEDS)('gen-%i lasts 3 to 4 minutes, with rates of the order of 5-300/s plus bursts at x1', (seed) => {
    const trace = generateTrace(seed);
    expect(trace.durationMs).toBeGreaterThanOrEqual(180_000);
    expect(trace.durationMs).toBeLessThanOrEqual(240_000);
    expect(trace.maxRate).toBeLessThanOrEqual(300 * 1.9 + 600);
    expect(trace.pieces.filter((p) => p.kind === 'burst').length).toBeGreaterThanOrEqual(1);
  });

  it('multiplies every rate by the scale', () => {
    const x1 = samples(3, 1);
    const x10 = samples(3, 10);
    x1.forEach((rate, i) => expect(x10[i]).toBeCloseTo(rate * 10, 6));
  });

  it('honours a fixed duration, pieces and bursts included', () => {
    const trace = generateTrace(5, { durationMs: 60_000 });
    expect(trace.durationMs).toBe(60_000);
    expect(trace.pieces.every((p) => p.startMs >= 0 && p.endMs <= 60_000 && p.endMs > p.startMs)).toBe(true);
  });

  it('lays the background end to end, from 0 to the end of the trace', () => {
    for (const seed of SEEDS) {
      const trace = generateTrace(seed);
      const background = trace.pieces.filter((p) => p.kind !== 'burst');
      expect(background[0]!.startMs).toBe(0);
      expect(background[0]!.kind).toBe('ramp');
      background.slice(1).forEach((p, i) => expect(p.startMs).toBe(background[i]!.endMs));
      expect(background[background.length - 1]!.endMs).toBe(trace.durationMs);
    }
  });

  it('over a few seeds makes every kind of piece, short and long bursts, and sparse tails', () => {
    const pieces = SEEDS.flatMap((seed) => generateTrace(seed).pieces);
    const kinds = new Set<PieceKind>(pieces.map((p) => p.kind));
    expect([...kinds].sort()).toEqual(['burst', 'hold', 'idle', 'ramp', 'sparse', 'wave']);
    const bursts = pieces.filter((p) => p.kind === 'burst');
    expect(bursts.some((b) => b.endMs - b.startMs <= 10_000)).toBe(true);
    expect(bursts.some((b) => b.endMs - b.startMs >= 15_000)).toBe(true);
    const tails = SEEDS.filter((seed) => {
      const trace = generateTrace(seed);
      return trace.pieces.some((p) => p.kind === 'sparse' && p.endMs === trace.durationMs);
    });
    expect(tails.length).toBeGreaterThan(0);
  });
});
