/**
 * Load traces: an arrival rate (requests/s) over time. Arrivals are drawn
 * from rate(t) by thinning, which needs an upper bound on the rate.
 */
export interface Trace {
  name: string;
  durationMs: number;
  /** An upper bound of rate over the whole trace. */
  maxRate: number;
  /** Requests per second at time t (ms from the start). */
  rate(tMs: number): number;
}

export const BUILTIN_TRACES = ['step', 'bursts', 'diurnal', 'sparse'] as const;
export type BuiltinTraceName = (typeof BUILTIN_TRACES)[number];

/** Silence, a sudden 200/s plateau, then silence: how fast the pool grows and how it shrinks. */
export function stepTrace(): Trace {
  return {
    name: 'step',
    durationMs: 130_000,
    maxRate: 200,
    rate: (t) => (t >= 10_000 && t < 70_000 ? 200 : 0),
  };
}

/** 20/s with a 5 s burst of 300/s every 30 s: bursts shorter than a scale-down window. */
export function burstsTrace(): Trace {
  return {
    name: 'bursts',
    durationMs: 180_000,
    maxRate: 300,
    rate: (t) => (t >= 30_000 && t % 30_000 < 5_000 ? 300 : 20),
  };
}

/** A day compressed to 5 minutes, twice: a slow swing between 10/s and 200/s, starting low. */
export function diurnalTrace(): Trace {
  const low = 10;
  const high = 200;
  return {
    name: 'diurnal',
    durationMs: 600_000,
    maxRate: high,
    rate: (t) => low + ((high - low) * (1 - Math.cos((2 * Math.PI * t) / 300_000))) / 2,
  };
}

/** One request every 2 s: the pool should sit at its floor. */
export function sparseTrace(): Trace {
  return constantTrace(0.5, 300_000, 'sparse');
}

export function constantTrace(rate: number, durationMs: number, name = `constant-${rate}`): Trace {
  return { name, durationMs, maxRate: rate, rate: () => rate };
}

export function builtinTrace(name: BuiltinTraceName): Trace {
  switch (name) {
    case 'step': return stepTrace();
    case 'bursts': return burstsTrace();
    case 'diurnal': return diurnalTrace();
    case 'sparse': return sparseTrace();
  }
}

/** The same shape with every rate multiplied by factor. */
export function scaleTrace(trace: Trace, factor: number): Trace {
  if (factor === 1) return trace;
  return {
    name: trace.name,
    durationMs: trace.durationMs,
    maxRate: trace.maxRate * factor,
    rate: (t) => trace.rate(t) * factor,
  };
}

/** The same shape played `factor` times faster, at the same rates (for short runs on a real pool). */
export function compressTrace(trace: Trace, factor: number): Trace {
  if (factor === 1) return trace;
  return {
    name: trace.name,
    durationMs: trace.durationMs / factor,
    maxRate: trace.maxRate,
    rate: (t) => trace.rate(t * factor),
  };
}
