import fc from 'fast-check';
import { Queue, QueueEvents, type JobsOptions } from 'bullmq';
import type { Reply } from '../../infra/protocol.js';
import { bullConnection, QUEUE_NAME, queueOptions, queuePrefix } from '../../infra/transport/bullmq/connection.js';
import { REDIS_URL, startWorker, waitFor } from './broker.js';
import { recordJobEnds } from './raw-requests.js';
import {
  body,
  countErrorCodes,
  deadlinePassed,
  FUZZ_MAX_BODY_BYTES,
  replyWord,
  stillAnswers,
  time,
  timeValue,
  verdictFor,
  version,
  type FuzzReport,
} from './fuzz-model.js';

/**
 * Fuzzing a BullMQ worker with raw jobs added straight to its queue with the
 * bullmq Queue API: random names, data (shoal's shape with fields missing or
 * wrong, or anything at all) and options (attempts, backoff, delay, priority,
 * lifo, job ids, size limits). Each one is accounted for exactly once: refused
 * by BullMQ when added (nothing stored), completed with an ok reply, or failed
 * with an error reply and kept in the failed set, the dead letters of this
 * transport. The worker must keep serving.
 */

/** Job ids BullMQ refuses (integers, one colon) next to ordinary ones and none (BullMQ numbers it). */
const idKind = fc.oneof(
  { arbitrary: fc.constantFrom('custom', 'none'), weight: 12 },
  { arbitrary: fc.constantFrom('integer', 'colon'), weight: 1 },
);

const shapedData = fc.record(
  {
    body: body.map((b) => b.toString('utf8')),
    messageId: fc.string({ maxLength: 12 }),
    version,
    sentAt: time(true),
    deadline: time(false),
    extra: fc.jsonValue({ maxDepth: 1 }),
  },
  { requiredKeys: ['body'] },
);

const data = fc.oneof(
  { arbitrary: shapedData.map((d) => ({ kind: 'shaped' as const, d })), weight: 6 },
  { arbitrary: fc.jsonValue({ maxDepth: 2 }).map((b) => ({ kind: 'raw' as const, d: { body: b } })), weight: 1 }, // a body that is not text
  { arbitrary: fc.jsonValue({ maxDepth: 2 }).map((d) => ({ kind: 'raw' as const, d })), weight: 1 }, // anything at all
);

const options = fc.record({
  attempts: fc.constantFrom(undefined, 0, 1, 2, 3),
  backoff: fc.option(fc.integer({ min: 0, max: 20 }).map((delay) => ({ type: 'fixed', delay })), { nil: undefined }),
  delay: fc.constantFrom(undefined, undefined, undefined, 0, 5, 20),
  priority: fc.oneof(
    { arbitrary: fc.constantFrom(undefined, undefined, undefined, 1, 7, 1000), weight: 12 },
    { arbitrary: fc.constantFrom(2.5, 2 ** 22), weight: 1 }, // refused: not a whole number, above BullMQ's limit
  ),
  lifo: fc.boolean(),
  removeOnComplete: fc.boolean(),
  sizeLimit: fc.constantFrom(undefined, undefined, undefined, undefined, undefined, undefined, 64, 100_000),
});

const job = fc.record({
  name: fc.oneof(fc.constantFrom('echo', 'sleep', 'raw', ''), fc.string({ maxLength: 20 })),
  idKind,
  data,
  options,
});

type FuzzJob = ReturnType<typeof sampleJobs>[number];

function sampleJobs(seed: number, count: number) {
  return fc.sample(job, { numRuns: count, seed }).map((j, i) => ({ ...j, index: i }));
}

function jobId(j: FuzzJob): string | undefined {
  const ids = { custom: `fuzz-${j.index}`, none: undefined, integer: String(1_000_000 + j.index), colon: `fuzz:${j.index}` };
  return ids[j.idKind];
}

/** The job's data as sent: times made absolute now. */
function dataAt(j: FuzzJob, now: number): unknown {
  if (j.data.kind === 'raw') return j.data.d;
  const { sentAt, deadline, ...rest } = j.data.d;
  return { ...rest, ...(sentAt !== undefined ? { sentAt: timeValue(sentAt, now) } : {}), ...(deadline !== undefined ? { deadline: timeValue(deadline, now) } : {}) };
}

/** Whether BullMQ refuses to add it (its Job.validateOptions, written out): nothing is stored then. */
export function refusedAtAdd(j: FuzzJob, stored: string): boolean {
  const { priority, sizeLimit } = j.options;
  if (j.idKind === 'integer' || j.idKind === 'colon') return true;
  if (priority !== undefined && (!Number.isInteger(priority) || priority > 2 ** 21)) return true;
  return sizeLimit !== undefined && Buffer.byteLength(stored) > sizeLimit;
}

/**
 * The reply a job should end with: 'ok' or an error code. The request is the
 * data's body (text as is, anything else as its JSON); a job whose deadline
 * has passed is failed unrun, with BullMQ's plain-text reason (JOB_FAILED).
 */
export function expectedReply(j: FuzzJob): string {
  const stored = JSON.parse(JSON.stringify(dataAt(j, 0)) ?? 'null') as { body?: unknown; version?: unknown } | null;
  const b = stored !== null && typeof stored === 'object' && !Array.isArray(stored) ? stored.body : undefined;
  const content = Buffer.from(typeof b === 'string' ? b : JSON.stringify(b ?? null));
  const v = stored !== null && typeof stored === 'object' && !Array.isArray(stored) ? stored.version : undefined;
  const expired = j.data.kind === 'shaped' && deadlinePassed(j.data.d.deadline) === true;
  const verdict = verdictFor(content, v, expired);
  return verdict === 'expired' ? 'JOB_FAILED' : verdict;
}

export interface BullmqFuzzReport extends FuzzReport {
  /** Refused by BullMQ's own checks when added: never stored. */
  refusedAtAdd: number;
}

/** Starts a worker on `namespace`, adds `count` fuzzed jobs, waits for every one to settle and accounts for each. */
export async function runBullmqFuzz(namespace: string, seed: number, count: number): Promise<BullmqFuzzReport> {
  const started = performance.now();
  const worker = await startWorker(namespace, 'fuzzed', { transport: 'bullmq', maxBodyBytes: FUZZ_MAX_BODY_BYTES, deliveryLimit: 1 });
  const queue = new Queue(QUEUE_NAME, queueOptions(REDIS_URL, namespace, 'shoal test fuzz'));
  const events = new QueueEvents(QUEUE_NAME, { connection: bullConnection(REDIS_URL, 'shoal test fuzz events'), prefix: queuePrefix(namespace) });
  const replies = new Map<string, Reply[]>();
  recordJobEnds(events, replies);
  try {
    await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
    const jobs = sampleJobs(seed, count);
    const mismatches: string[] = [];
    const added: { j: FuzzJob; id: string }[] = [];
    let refused = 0;
    for (const j of jobs) {
      const d = dataAt(j, Date.now());
      const opts: JobsOptions = { ...Object.fromEntries(Object.entries(j.options).filter(([, v]) => v !== undefined)), ...(jobId(j) ? { jobId: jobId(j) } : {}) };
      const wantRefused = refusedAtAdd(j, JSON.stringify(d) ?? '');
      try {
        const got = await queue.add(j.name, d, opts);
        added.push({ j, id: got.id! });
        if (wantRefused) mismatches.push(`job ${j.index}: added as ${got.id}, want refused (opts ${JSON.stringify(opts)})`);
      } catch (err) {
        refused++;
        if (!wantRefused) mismatches.push(`job ${j.index}: refused (${(err as Error).message}), want added (opts ${JSON.stringify(opts)})`);
      }
    }

    await waitFor('every job completed or failed', () => added.every(({ id }) => replies.has(id)), 10_000 + 10 * count);
    const failedIds = new Set((await queue.getFailed(0, -1)).map((f) => f.id));
    const completedIds = new Set((await queue.getCompleted(0, -1)).map((c) => c.id));
    for (const { j, id } of added) {
      const want = expectedReply(j);
      const got = replyWord(replies.get(id));
      const inFailed = failedIds.has(id);
      const keptCompleted = completedIds.has(id);
      if (got !== want || inFailed !== (want !== 'ok') || keptCompleted !== (want === 'ok' && !j.options.removeOnComplete)) {
        mismatches.push(`job ${j.index} (${id}): want ${want}, got ${got}, in failed set ${inFailed}, kept completed ${keptCompleted} ` +
          `(name ${JSON.stringify(j.name)}, opts ${JSON.stringify(j.options)}, data ${JSON.stringify(dataAt(j, 0)).slice(0, 120)})`);
      }
    }

    // The books balance: refused + completed ok + failed = sent, and nothing is left in the queue.
    const imbalances: string[] = [];
    const answeredOk = added.filter(({ id }) => replyWord(replies.get(id)) === 'ok').length;
    const expired = added.filter(({ j }) => expectedReply(j) === 'JOB_FAILED').length;
    if (refused + answeredOk + failedIds.size !== count) imbalances.push(`refused ${refused} + ok ${answeredOk} + failed ${failedIds.size} != sent ${count}`);
    const { processed, failed } = worker.stats();
    if (processed !== answeredOk) imbalances.push(`worker ran ${processed}, want ${answeredOk} ok replies`);
    // The worker counts a failure for each failed job except the expired ones, which it neither runs nor answers.
    if (failed + expired !== failedIds.size) imbalances.push(`worker failures ${failed} + expired ${expired} != failed set ${failedIds.size}`);
    const left = await queue.getJobCounts('wait', 'active', 'delayed', 'prioritized', 'waiting-children');
    if (Object.values(left).some((n) => n > 0)) imbalances.push(`left in the queue: ${JSON.stringify(left)}`);

    const stillServing = await stillAnswers(namespace, 'bullmq');
    const errorReplies = countErrorCodes(replies.values());
    return { transport: 'bullmq', seed, sent: count, refusedAtAdd: refused, answeredOk, deadLettered: failedIds.size, errorReplies, expired, mismatches, imbalances, stillServing, durationMs: Math.round(performance.now() - started) };
  } finally {
    await events.close();
    await queue.close();
    await worker.close();
  }
}
