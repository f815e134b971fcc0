import { Queue, type Job } from 'bullmq';
import { QUEUE_NAME, queueOptions, queuePrefix, withRedisOnce } from './connection.js';
import { replyFromFailure, type RequestJobData } from './job-message.js';
import { formatDeadLetter, PREVIEW_CHARS, previewBody, type DeadLetterSummary } from '../../dead-letter-summary.js';

/**
 * `shoal-dead --transport bullmq`: BullMQ's dead letters are the queue's failed
 * set (kept by the RPC client's removeOnFail). `list` reads it without
 * changing it; `requeue` moves failed jobs back to wait with BullMQ's own
 * retry (one atomic script per job, same id, attempts reset), after clearing
 * the caller's deadline, as the RabbitMQ requeue drops the expiration: those
 * callers have stopped waiting, and a worker would otherwise refuse the job
 * as expired.
 */
export interface BullmqDeadConfig {
  redisUrl: string;
  namespace: string;
}

/** What `list` and `requeue` call the failed set in their output. */
export function failedSetName(namespace: string): string {
  return `${queuePrefix(namespace)}:${QUEUE_NAME}:failed`;
}

/** A failed job as a dead letter: the reason is its reply's error code (JOB_FAILED, UNKNOWN_JOB, JOB_STALLED, ...). */
export function describeFailedJob(job: Job<RequestJobData>, namespace: string): DeadLetterSummary {
  const body = Buffer.from(typeof job.data?.body === 'string' ? job.data.body : JSON.stringify(job.data?.body ?? null));
  const reply = replyFromFailure(job.failedReason ?? '');
  return {
    messageId: job.data?.messageId,
    correlationId: job.id,
    job: job.name,
    reason: reply.ok ? undefined : reply.error.code,
    queue: `${queuePrefix(namespace)}:${QUEUE_NAME}`,
    diedAt: job.finishedOn,
    bytes: body.length,
    preview: previewBody(body, PREVIEW_CHARS),
    originalExpiration: undefined,
  };
}

async function withQueue<T>(config: BullmqDeadConfig, work: (queue: Queue<RequestJobData>) => Promise<T>): Promise<T> {
  // Fails with a clear message when Redis is not there, instead of waiting for it.
  await withRedisOnce(config.redisUrl, `shoal dead-letters ${config.namespace} check`, (redis) => redis.ping());
  const queue = new Queue<RequestJobData>(QUEUE_NAME, queueOptions(config.redisUrl, config.namespace, `shoal dead-letters ${config.namespace}`));
  queue.on('error', () => undefined);
  try {
    return await work(queue);
  } finally {
    await queue.close().catch(() => undefined);
  }
}

export async function listFailed(config: BullmqDeadConfig & { limit: number }, json: boolean): Promise<string> {
  return withQueue(config, async (queue) => {
    const name = failedSetName(config.namespace);
    const total = await queue.getFailedCount();
    const jobs = (await queue.getFailed(0, config.limit - 1)).filter(Boolean);
    const summaries = jobs.map((job) => describeFailedJob(job, config.namespace));
    if (json) {
      const deadLetters = summaries.map((s) => ({ ...s, diedAt: s.diedAt === undefined ? null : new Date(s.diedAt).toISOString() }));
      return `${JSON.stringify({ queue: name, total, shown: jobs.length, deadLetters }, (_key, value: unknown) => (value === undefined ? null : value))}\n`;
    }
    if (total === 0) return `${name} is empty\n`;
    const shown = jobs.length < total ? `showed ${jobs.length} of ${total} (--limit ${config.limit})` : `showed ${jobs.length}`;
    return `${summaries.map(formatDeadLetter).join('\n')}\n${shown}; ${name} holds ${total} dead letter(s), all still there\n`;
  });
}

export async function requeueFailed(config: BullmqDeadConfig & { limit: number; job: string | undefined }): Promise<string> {
  return withQueue(config, async (queue) => {
    const name = failedSetName(config.namespace);
    // Only what is there now: a moved job that fails again comes straight back, and --all must not chase it.
    const present = (await queue.getFailed(0, -1)).filter(Boolean);
    let moved = 0;
    let skipped = 0;
    for (const job of present) {
      if (moved >= config.limit) break;
      if (config.job !== undefined && job.name !== config.job) {
        skipped++;
        continue;
      }
      const { deadline: _deadline, ...rest } = job.data;
      await job.updateData({ ...rest, deadline: undefined } as unknown as RequestJobData);
      await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
      moved++;
    }
    const of = config.job === undefined ? '' : ` of job "${config.job}"`;
    const lines = [`moved ${moved} dead letter(s)${of} from ${name} to ${queuePrefix(config.namespace)}:${QUEUE_NAME}:wait`];
    if (skipped > 0) lines.push(`left ${skipped} dead letter(s) of other jobs in ${name}`);
    return `${lines.join('\n')}\n`;
  });
}
