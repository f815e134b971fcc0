import type { Trace } from './traces.js';

/** A trace file that cannot be used; the message names the line and what is wrong with it. */
export class TraceFileError extends Error {
  override readonly name = 'TraceFileError';
}

/**
 * Parses a trace from CSV text: lines `t_seconds,rate_per_second`, an
 * optional header line, blank lines and `#` comments ignored. The rate is
 * interpolated linearly between points; the trace lasts until the last t.
 */
export function parseCsvTrace(text: string, source: string): Trace {
  const times: number[] = [];
  const rates: number[] = [];
  const lines = text.split(/\r?\n/);
  let sawData = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const where = `${source} line ${i + 1}`;
    const cells = line.split(',').map((c) => c.trim());
    const looksNumeric = cells.every((c) => c !== '' && Number.isFinite(Number(c)));
    // The first non-blank line may be a header such as "t_seconds,rate_per_second".
    if (!sawData && !looksNumeric && cells.length === 2 && cells.every((c) => /[a-z]/i.test(c))) {
      sawData = true;
      continue;
    }
    sawData = true;
    if (cells.length !== 2) throw new TraceFileError(`${where}: expected 2 columns "t_seconds,rate_per_second", got ${cells.length} (${JSON.stringify(line)})`);
    const [t, rate] = cells.map(Number) as [number, number];
    if (cells[0] === '' || !Number.isFinite(t) || t < 0) throw new TraceFileError(`${where}: t_seconds must be a number >= 0 (got ${JSON.stringify(cells[0])})`);
    if (cells[1] === '' || !Number.isFinite(rate) || rate < 0) throw new TraceFileError(`${where}: rate_per_second must be a number >= 0 (got ${JSON.stringify(cells[1])})`);
    const previous = times.length > 0 ? times[times.length - 1]! / 1000 : undefined;
    if (previous !== undefined && t <= previous) throw new TraceFileError(`${where}: t_seconds must increase (got ${t} after ${previous})`);
    times.push(t * 1000);
    rates.push(rate);
  }
  const last = times[times.length - 1];
  if (last === undefined) throw new TraceFileError(`${source}: no data lines; expected lines "t_seconds,rate_per_second"`);
  if (last <= 0) throw new TraceFileError(`${source}: the last t_seconds must be > 0, it sets the trace's duration (got ${last / 1000})`);

  return {
    name: source,
    durationMs: last,
    // Linear pieces peak at their ends, so the largest point bounds the rate.
    maxRate: Math.max(...rates),
    rate: (tMs) => interpolate(times, rates, tMs),
  };
}

/** Piecewise-linear value at t; flat before the first point and after the last. */
function interpolate(times: number[], values: number[], t: number): number {
  if (t <= times[0]!) return values[0]!;
  let low = 0;
  let high = times.length - 1;
  if (t >= times[high]!) return values[high]!;
  while (high - low > 1) {
    const mid = (low + high) >> 1;
    if (times[mid]! <= t) low = mid;
    else high = mid;
  }
  const f = (t - times[low]!) / (times[high]! - times[low]!);
  return values[low]! + f * (values[high]! - values[low]!);
}
