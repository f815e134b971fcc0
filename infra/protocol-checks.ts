/**
 * Hand-written checks for the two messages on the request path, a request
 * body and a reply, for the hot path: a zod parse per message was a few
 * percent of the producer's and the worker's CPU. Each check accepts no more
 * than its zod schema in protocol.ts does (test/unit/protocol-checks.test.ts
 * compares them on random input), and gives the same output; whatever it
 * does not accept goes on to the zod schema, which decides and words the
 * error. So the schemas stay the protocol's definition.
 */

/** What a job may be called (the request schema in protocol.ts uses it too). */
export const JOB_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** The request body ({job, payload}) if `json` is a valid one, else undefined. */
export function fastRequestBody(json: unknown): { job: string; payload: unknown } | undefined {
  if (!isObject(json)) return undefined;
  const job = json.job;
  // zod 4 requires a z.unknown() key to be present, if only as null.
  if (typeof job !== 'string' || !JOB_NAME_PATTERN.test(job) || !('payload' in json)) return undefined;
  return { job, payload: json.payload };
}

/** What replySchema gives for `json` (unknown keys dropped), if it is a valid reply; else undefined. */
export function fastReply(json: unknown): FastReply | undefined {
  if (!isObject(json)) return undefined;
  const { ok, workerId, timings, redelivered } = json;
  if (typeof workerId !== 'string' || !isObject(timings)) return undefined;
  const { queuedMs, serviceMs } = timings;
  if (!isFiniteNumber(serviceMs) || !(queuedMs === null || isFiniteNumber(queuedMs))) return undefined;
  if (redelivered !== undefined && typeof redelivered !== 'boolean') return undefined;
  const checkedTimings = { queuedMs, serviceMs };
  if (ok === true) {
    if (!('result' in json)) return undefined;
    return redelivered === undefined
      ? { ok: true, result: json.result, workerId, timings: checkedTimings }
      : { ok: true, result: json.result, workerId, timings: checkedTimings, redelivered };
  }
  if (ok !== false || !isObject(json.error)) return undefined;
  const { code, message } = json.error;
  if (typeof code !== 'string' || typeof message !== 'string') return undefined;
  const error = { code, message };
  return redelivered === undefined ? { ok: false, error, workerId, timings: checkedTimings } : { ok: false, error, workerId, timings: checkedTimings, redelivered };
}

/** The shape of protocol.ts's Reply, repeated here so that this module needs no zod. */
type FastReply = { workerId: string; timings: { queuedMs: number | null; serviceMs: number }; redelivered?: boolean } & (
  | { ok: true; result: unknown }
  | { ok: false; error: { code: string; message: string } }
);
