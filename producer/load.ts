import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { errorCode } from '../infra/errors.js';
import type { Reply } from '../infra/protocol.js';
import { SummaryBuilder, type CallOutcome, type LoadSummary } from './summary.js';

export interface LoadPlan {
  count: number;
  /** Requests in flight at once. */
  concurrency: number;
  /** Requests per second across all lanes; unlimited when undefined. */
  ratePerSec: number | undefined;
  job: string;
  payload: unknown;
  timeoutMs: number;
}

/** What the load runner needs of a client; RabbitRpcClient provides it. */
export interface Caller {
  call(job: string, payload: unknown, timeoutMs: number): Promise<Reply>;
}

/** Stopping a run early (Ctrl-C): send nothing more, then wait up to `graceMs` for the calls in flight. */
export interface LoadStop {
  signal: AbortSignal;
  graceMs: number;
}

/**
 * Sends `count` requests with at most `concurrency` in flight, optionally
 * paced to `ratePerSec`, and waits for every one to be answered, fail or time
 * out. Each outcome goes to `onOutcome` (progress bars, --each) as it lands.
 * When `stop` fires, it sends nothing more and summarizes what landed by the
 * end of the grace; calls still in flight then are left out.
 */
export async function runLoad(caller: Caller, plan: LoadPlan, onOutcome: (o: CallOutcome) => void = () => {}, stop?: LoadStop): Promise<LoadSummary> {
  const summary = new SummaryBuilder();
  const started = performance.now();
  const stopped = () => stop?.signal.aborted === true;
  let summarized = false;
  let next = 0;

  const lane = async () => {
    for (let index = next++; index < plan.count && !stopped(); index = next++) {
      if (plan.ratePerSec !== undefined) {
        const due = started + (index * 1000) / plan.ratePerSec;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait, undefined, stop && { signal: stop.signal }).catch(() => undefined);
        if (stopped()) return;
      }
      const outcome = await callOnce(caller, plan, index);
      if (summarized) return; // it landed after the grace: the summary is out
      summary.add(outcome);
      onOutcome(outcome);
    }
  };
  const lanes = Promise.all(Array.from({ length: Math.min(plan.concurrency, plan.count) }, lane));
  const finished = new AbortController();
  await (stop ? Promise.race([lanes, graceAfter(stop, finished.signal)]) : lanes);
  finished.abort(); // a grace not yet over holds no timer after the run
  summarized = true;
  return summary.build(performance.now() - started);
}

/** Resolves `graceMs` after the stop signal fires, or as soon as the run has `finished`, holding no timer. */
async function graceAfter({ signal, graceMs }: LoadStop, finished: AbortSignal): Promise<void> {
  const either = AbortSignal.any([signal, finished]);
  if (!either.aborted) await once(either, 'abort');
  if (!finished.aborted) await sleep(graceMs, undefined, { signal: finished }).catch(() => undefined);
}

async function callOnce(caller: Caller, plan: LoadPlan, index: number): Promise<CallOutcome> {
  const sentAt = Date.now();
  const t0 = performance.now();
  try {
    const reply = await caller.call(plan.job, plan.payload, plan.timeoutMs);
    const latencyMs = performance.now() - t0;
    return reply.ok
      ? { index, sentAt, latencyMs, status: 'ok', workerId: reply.workerId }
      : { index, sentAt, latencyMs, status: 'error', code: reply.error.code, workerId: reply.workerId };
  } catch (err) {
    const code = errorCode(err);
    return { index, sentAt, latencyMs: performance.now() - t0, status: code === 'TIMEOUT' ? 'timeout' : 'error', code };
  }
}
