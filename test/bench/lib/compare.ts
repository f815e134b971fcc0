import { loadavg } from 'node:os';
import { median, round } from './stats.js';

/** One run of one kind: throughput, latency, and CPU per request of each side (µs). */
export interface RunResult {
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  producerCpuUs: number;
  workerCpuUs: number;
}

/** A median with the smallest and largest value it was taken from. */
export interface Spread {
  median: number;
  min: number;
  max: number;
}

export function spreadOf(xs: readonly number[], digits = 3): Spread {
  return { median: round(median(xs), digits), min: round(Math.min(...xs), digits), max: round(Math.max(...xs), digits) };
}

export const formatSpread = (s: Spread, unit = '') => `${s.median}${unit} (${s.min}–${s.max})`;

/** Fisher-Yates with a seeded generator (mulberry32), so that an order can be replayed with BENCH_SEED. */
export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** The simulator's seeded generator: the shuffled run order is reproducible from the seed. */
export { mulberry32 as seededRandom } from '../../../dispatcher/simulator/rng.js';

export interface Compared<K extends string> {
  runs: Record<K, RunResult[]>;
  /** The kinds' order in each repeat. */
  orders: K[][];
  /** 1-minute load average before the first run and after the last. */
  loadAverage: [number, number];
}

/**
 * Runs every kind once per repeat, in a new shuffled order each repeat, so
 * that no kind always goes first or always follows the same one. `warmUp`
 * runs each kind once first, unrecorded (JIT compilation, connections).
 */
export async function compareKinds<K extends string>(
  kinds: readonly K[],
  repeats: number,
  random: () => number,
  runOnce: (kind: K) => Promise<RunResult>,
  warmUp: (kind: K) => Promise<unknown>,
): Promise<Compared<K>> {
  const runs = Object.fromEntries(kinds.map((k) => [k, [] as RunResult[]])) as Record<K, RunResult[]>;
  const orders: K[][] = [];
  for (const kind of kinds) await warmUp(kind);
  const before = loadavg()[0]!;
  for (let i = 0; i < repeats; i++) {
    const order = shuffled(kinds, random);
    orders.push(order);
    for (const kind of order) runs[kind].push(await runOnce(kind));
  }
  return { runs, orders, loadAverage: [round(before, 2), round(loadavg()[0]!, 2)] };
}

export function summarize(rs: readonly RunResult[]) {
  return {
    perSecond: spreadOf(rs.map((r) => r.perSecond), 0),
    p50Ms: spreadOf(rs.map((r) => r.p50Ms)),
    p99Ms: spreadOf(rs.map((r) => r.p99Ms)),
    producerCpuUs: spreadOf(rs.map((r) => r.producerCpuUs), 1),
    workerCpuUs: spreadOf(rs.map((r) => r.workerCpuUs), 1),
  };
}

/** shoal against one reference, run by run within the same repeat (runs that were close in time). */
export function ratios(shoal: readonly RunResult[], reference: readonly RunResult[]) {
  const paired = <T>(f: (s: RunResult, r: RunResult) => T) => shoal.map((s, i) => f(s, reference[i]!));
  return {
    throughput: spreadOf(paired((s, r) => s.perSecond / r.perSecond)),
    extraP50Ms: spreadOf(paired((s, r) => s.p50Ms - r.p50Ms)),
    producerCpu: spreadOf(paired((s, r) => s.producerCpuUs / r.producerCpuUs)),
    workerCpu: spreadOf(paired((s, r) => s.workerCpuUs / r.workerCpuUs)),
  };
}

export function formatRun(label: string, s: ReturnType<typeof summarize>): string {
  return `    ${label.padEnd(16)} ${formatSpread(s.perSecond, ' req/s')}  p50 ${formatSpread(s.p50Ms, ' ms')}  p99 ${formatSpread(s.p99Ms, ' ms')}  cpu/req producer ${formatSpread(s.producerCpuUs, ' µs')} worker ${formatSpread(s.workerCpuUs, ' µs')}`;
}

export function formatRatios(label: string, r: ReturnType<typeof ratios>): string {
  return `    ${label.padEnd(28)} throughput ${formatSpread(r.throughput, 'x')}  extra p50 ${formatSpread(r.extraP50Ms, ' ms')}  cpu/req producer ${formatSpread(r.producerCpu, 'x')} worker ${formatSpread(r.workerCpu, 'x')}`;
}
