import { expect } from 'vitest';
import { restartDelayMs } from '../../dispatcher/pool.js';

/** One line of the dispatcher's JSON log that says when it will try to start a worker again. */
export interface RetryLine {
  msg: 'worker exited; replacing it' | 'could not start a worker';
  /** pino's epoch ms. */
  time: number;
  /** The delay the pool announced: restartInMs after an exit, retryInMs after a failed start. */
  delayMs: number;
}

/** Exits and failed starts, in order, from the dispatcher's log. */
export function retryLines(output: string): RetryLine[] {
  return output
    .split('\n')
    .filter((line) => line.includes('"msg":"worker exited; replacing it"') || line.includes('"msg":"could not start a worker"'))
    .map((line) => {
      const entry = JSON.parse(line) as { msg: RetryLine['msg']; time: number; restartInMs?: number; retryInMs?: number };
      return { msg: entry.msg, time: entry.time, delayMs: entry.restartInMs ?? entry.retryInMs ?? NaN };
    });
}

/**
 * Asserts the backoff of dispatcher/pool.ts against what the pool did: after
 * the first failed start, each one doubles the delay (restartDelayMs), and no
 * start is tried before the delay the one before it announced has run out,
 * however often the autoscaler asks for the worker in between. Returns the
 * failed starts' delays and the gaps between them, to print.
 */
export function expectBackoffSchedule(lines: readonly RetryLine[], minFailures: number): { delays: number[]; gapsMs: number[] } {
  const failures = lines.filter((l) => l.msg === 'could not start a worker');
  expect(failures.length, 'failed starts').toBeGreaterThanOrEqual(minFailures);
  // The n-th consecutive failure announces restartDelayMs(n): find n from the first, then it only grows.
  const first = [1, 2, 3, 4, 5, 6, 7, 8].find((n) => restartDelayMs(n) === failures[0]!.delayMs);
  expect(first, `a first delay of ${failures[0]!.delayMs} ms is one of restartDelayMs`).toBeDefined();
  expect(failures.map((f) => f.delayMs)).toEqual(failures.map((_, i) => restartDelayMs(first! + i)));
  // Each attempt waited out the delay announced before it (an exit's or a failure's); 25 ms for timer slack.
  const gapsMs: number[] = [];
  for (let i = 1; i < lines.length; i++) {
    if (lines[i]!.msg !== 'could not start a worker') continue;
    const gap = lines[i]!.time - lines[i - 1]!.time;
    gapsMs.push(gap);
    expect(gap, `attempt ${i} came ${gap} ms after a delay of ${lines[i - 1]!.delayMs} ms was announced`).toBeGreaterThanOrEqual(lines[i - 1]!.delayMs - 25);
  }
  return { delays: failures.map((f) => f.delayMs), gapsMs };
}
