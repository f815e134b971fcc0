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

/** What the load runner needs of a client; RpcClient provides it. */
export interface Caller {
  call(job: string, payload: unknown, timeoutMs: number): Promise<Reply>;
}

/**
 * Sends `count` requests with at most `concurrency` in flight, optionally
 * paced to `ratePerSec`, and waits for every one to be answered, fail or time
 * out. Each outcome goes to `onOutcome` (progress bars, --each) as it lands.
 */
export async function runLoad(caller: Caller, plan: LoadPlan, onOutcome: (o: CallOutcome) => void = () => {}): Promise<LoadSummary> {
  const summary = new SummaryBuilder();
  const started = performance.now();
  let next = 0;

  const lane = async () => {
    for (let index = next++; index < plan.count; index = next++) {
      if (plan.ratePerSec !== undefined) {
        const due = started + (index * 1000) / plan.ratePerSec;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
      }
      const outcome = await callOnce(caller, plan, index);
      summary.add(outcome);
      onOutcome(outcome);
    }
  };
  await Promise.all(Array.from({ length: Math.min(plan.concurrency, plan.count) }, lane));
  return summary.build(performance.now() - started);
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
