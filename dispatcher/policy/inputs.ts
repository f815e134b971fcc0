/** The inputs of a decision, for its reason. */
export function describeInputs(o: { arrivalRate: number; serviceMs: number | undefined; backlog: number; inFlight: number; waitP95Ms: number | undefined }): string {
  const parts = [`arrival ${round(o.arrivalRate)}/s`];
  parts.push(o.serviceMs === undefined ? 'service unknown' : `service ${round(o.serviceMs)} ms`);
  parts.push(`backlog ${o.backlog}`, `in flight ${o.inFlight}`);
  if (o.waitP95Ms !== undefined) parts.push(`p95 wait ${round(o.waitP95Ms)} ms`);
  return parts.join(', ');
}

function round(n: number): number {
  return n >= 100 ? Math.round(n) : Math.round(n * 10) / 10;
}
