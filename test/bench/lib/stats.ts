import * as hdr from 'hdr-histogram-js';

/** The middle value (the mean of the two middle ones for an even count). */
export const median = (xs: readonly number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

export const round = (n: number, digits: number) => Math.round(n * 10 ** digits) / 10 ** digits;

/** Latencies in microseconds, up to a minute, at 3 significant digits. */
export function latencyHistogram() {
  return hdr.build({ useWebAssembly: false, lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
}
