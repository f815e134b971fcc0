import { writeFileSync } from 'node:fs';
import { pino } from 'pino';

/**
 * What every benchmark entry reads from its environment and where it writes
 * its figures: the knobs (BENCH_*), the broker and Redis, and results/<name>.json.
 */

export const AMQP_URL = process.env.SHOAL_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
export const REDIS_URL = process.env.SHOAL_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const silentLogger = pino({ level: 'silent' });

/** A number from the environment (e.g. BENCH_COUNT=1000), or its default. */
export function knob(name: string, fallback: number): number {
  return Number(process.env[name] ?? fallback);
}

/** A comma-separated list from the environment ("run only these"), or undefined when unset. */
export function listKnob(name: string): string[] | undefined {
  return process.env[name]?.split(',').map((s) => s.trim());
}

/** BENCH_SEED, or a new seed per run (print it: a run's shuffled order replays from it). */
export function benchSeed(fallback = Date.now() % 100_000): number {
  return knob('BENCH_SEED', fallback);
}

/** Writes a benchmark's figures to test/bench/results/<name>.json, the file BENCHMARKS.md quotes. */
export function writeResults(name: string, figures: unknown): void {
  writeFileSync(new URL(`../results/${name}.json`, import.meta.url), `${JSON.stringify(figures, null, 2)}\n`);
}
