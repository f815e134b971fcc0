/**
 * The Erlang C (M/M/c) queue: c identical servers, Poisson arrivals at rate
 * lambda, exponential service at rate mu per server. Pure math.
 */

/** Probability that an arriving request has to wait (all c servers busy). 1 when the queue is unstable. */
export function probabilityOfWaiting(servers: number, lambda: number, mu: number): number {
  if (lambda <= 0) return 0;
  if (servers <= 0) return 1;
  const offered = lambda / mu; // in Erlangs
  if (offered >= servers) return 1;
  // Erlang B by the stable recurrence B(k) = a*B(k-1) / (k + a*B(k-1)), then C from B.
  let erlangB = 1;
  for (let k = 1; k <= servers; k++) erlangB = (offered * erlangB) / (k + offered * erlangB);
  const utilization = offered / servers;
  return erlangB / (1 - utilization + utilization * erlangB);
}

/**
 * The p-quantile of the time a request waits before service, in the unit of
 * 1/mu. In M/M/c, P(W > t) = P_wait * exp(-(c*mu - lambda) * t).
 */
export function waitQuantile(servers: number, lambda: number, mu: number, quantile: number): number {
  const pWait = probabilityOfWaiting(servers, lambda, mu);
  const tail = 1 - quantile;
  if (pWait <= tail) return 0;
  const drainRate = servers * mu - lambda;
  if (drainRate <= 0) return Infinity;
  return Math.log(pWait / tail) / drainRate;
}
