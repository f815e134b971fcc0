/**
 * Seeded randomness for the simulator. Math.random cannot be seeded, and a
 * run must be reproducible from its seed alone.
 */

/** Uniform on [0, 1). */
export type Random = () => number;

/** mulberry32: 32 bits of state, fast, and the same sequence on every platform. */
export function mulberry32(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * An independent stream per purpose (arrivals, service, start delays), so
 * that a policy that starts more workers does not shift the arrivals and
 * service times the other policies see: every policy gets the same requests.
 */
export function stream(seed: number, purpose: number): Random {
  // splitmix32-style mixing keeps nearby seeds from giving correlated streams.
  let h = (Math.imul(seed >>> 0, 0x9e3779b9) ^ Math.imul(purpose + 1, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x21f0aaad);
  h = Math.imul(h ^ (h >>> 15), 0x735a2d97);
  return mulberry32((h ^ (h >>> 15)) >>> 0);
}

export function uniform(random: Random, low: number, high: number): number {
  return low + (high - low) * random();
}

export function exponential(random: Random, mean: number): number {
  // 1 - u is in (0, 1], so the log is finite.
  return -mean * Math.log(1 - random());
}

export function standardNormal(random: Random): number {
  // Box-Muller; one of the pair is thrown away to keep the generator stateless.
  const u = 1 - random();
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Lognormal with the given mean and coefficient of variation (stddev / mean). */
export function lognormal(random: Random, mean: number, cv: number): number {
  const sigma2 = Math.log(1 + cv * cv);
  return Math.exp(Math.log(mean) - sigma2 / 2 + Math.sqrt(sigma2) * standardNormal(random));
}
