import { exponential, stream } from '../../../dispatcher/simulator/rng.js';
import type { Trace } from '../../../dispatcher/simulator/traces.js';

export interface Arrival {
  /** ms from the start of the run. */
  at: number;
  /** The `sleep` job's duration: the request's service time. */
  serviceMs: number;
}

/**
 * The requests of one run of a trace: Poisson arrivals by thinning, with the
 * simulator's random stream for arrivals (so the same seed gives the simulator's
 * arrival times), and exponential service times. Pure and seeded: every policy
 * gets the same requests.
 */
export function arrivalsOf(trace: Trace, meanServiceMs: number, seed: number): Arrival[] {
  const arrivalRandom = stream(seed, 1);
  const serviceRandom = stream(seed, 2);
  const arrivals: Arrival[] = [];
  if (trace.maxRate <= 0) return arrivals;
  for (let t = 0; ; ) {
    t += exponential(arrivalRandom, 1000 / trace.maxRate);
    if (t >= trace.durationMs) return arrivals;
    if (arrivalRandom() * trace.maxRate < trace.rate(t)) arrivals.push({ at: t, serviceMs: Math.round(exponential(serviceRandom, meanServiceMs)) });
  }
}
