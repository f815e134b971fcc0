import { randomUUID } from 'node:crypto';
import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { errorMessage, PublishError, ShoalError, TimeoutError, ValidationError } from '../../errors.js';
import { callCancelled, onCallAborted } from '../abort-call.js';
import { publishControl } from './control.js';
import type { Logger } from '../../log.js';
import { encodeBoundedRequest, PROTOCOL_VERSION, replyOf, type Reply } from '../../protocol.js';
import { PendingCalls, type PendingCall } from '../pending-calls.js';
import type { DeliveryStats, RpcCaller } from '../types.js';
import { bullConnection, QUEUE_NAME, queueOptions, queuePrefix, redisConnection, withRedisOnce } from './connection.js';
import { replyFromFailure, type RequestJobData } from './job-message.js';
import { startPublishSpan, type MessagingTarget } from '../../tracing.js';
import { callsToCheck, keysExist, lostAfterCheck, type WatchedCall } from './lost-jobs.js';

export interface BullmqRpcClientOptions {
  redisUrl: string;
  namespace: string;
  /** Retries after the first delivery: a job gets deliveryLimit + 1 attempts, as a quorum queue delivers. */
  deliveryLimit: number;
  maxBodyBytes: number;
  name: string;
  logger: Logger;
  /** How often to check that the jobs of calls waiting at least this long still exist in Redis (default 2 s; lost-jobs.ts). */
  lostJobCheckMs?: number;
}

interface QueuedCall extends PendingCall, WatchedCall {
  job: string;
  data: RequestJobData;
  /** The last add of its job; a timed-out call removes the job once it has settled. */
  added: Promise<unknown> | undefined;
}

const LOST_JOB_CHECK_MS = 2000;

/** Failed jobs kept for inspection: the dead letters of this transport. */
const FAILED_KEPT = 10_000;

/**
 * Request/reply over BullMQ. A call adds a job (id = correlation id) and
 * waits for its completion, which one QueueEvents reader per client delivers
 * from the queue's event stream (a blocking XREAD: no polling). It starts
 * reading from the stream's last entry before the first job is added, so no
 * completion falls between adding and listening. Completed jobs are removed
 * at once (their reply travelled in the event); failed jobs stay in the failed
 * set. A call that times out removes its job if no worker has taken it, so
 * an expired request is not run later.
 *
 * A job Redis no longer holds (it restarted without persistence) is added
 * again under the same id, as the RabbitMQ client publishes again after a
 * reconnect: every few seconds the client checks, in one pipeline, that the
 * jobs of its older calls still exist (lost-jobs.ts). Adding a job id that
 * exists is a no-op in BullMQ, so this cannot queue a request twice.
 */
export class BullmqRpcClient implements RpcCaller {
  private readonly queue: Queue<RequestJobData>;
  private readonly events: QueueEvents;
  private readonly idPrefix = randomUUID();
  private sequence = 0;
  private closing: Promise<void> | undefined;
  readonly stats: DeliveryStats = { calls: 0, confirmed: 0, republished: 0, answered: 0, duplicatesSuppressed: 0, lateReplies: 0 };
  private readonly pending = new PendingCalls<QueuedCall>(this.stats, (id, call) => {
    // Not taken yet: remove it, so nobody runs it for a caller that is gone. Taken: it is locked and stays.
    // After the add: a remove that overtook a slow add would find nothing, and the job would stay.
    void call.added?.then(() => this.queue.remove(id)).catch(() => undefined);
    return new TimeoutError(`no reply to ${call.job} within ${call.timeoutMs}ms`);
  });
  private readonly lostJobCheck: NodeJS.Timeout;
  private checking = false;
  private publisher: Redis | undefined;
  private readonly tracing: MessagingTarget;

  private constructor(private readonly options: BullmqRpcClientOptions, lastEventId: string) {
    const prefix = queuePrefix(options.namespace);
    this.tracing = { system: 'bullmq', destination: `${prefix}:${QUEUE_NAME}` };
    this.queue = new Queue<RequestJobData>(QUEUE_NAME, queueOptions(options.redisUrl, options.namespace, options.name));
    this.events = new QueueEvents(QUEUE_NAME, { connection: bullConnection(options.redisUrl, `${options.name} events`), prefix, lastEventId });
    this.queue.on('error', (err: Error) => options.logger.warn({ err: err.message }, 'BullMQ queue error'));
    this.events.on('error', (err: Error) => options.logger.warn({ err: err.message }, 'BullMQ events error'));
    this.events.on('completed', ({ jobId, returnvalue }: { jobId: string; returnvalue: unknown }) => this.onCompleted(jobId, returnvalue));
    this.events.on('failed', ({ jobId, failedReason }: { jobId: string; failedReason: string }) => this.onReply(jobId, replyFromFailure(failedReason)));
    const every = options.lostJobCheckMs ?? LOST_JOB_CHECK_MS;
    this.lostJobCheck = setInterval(() => void this.addLostJobsAgain(every), every).unref();
  }

  static async connect(options: BullmqRpcClientOptions): Promise<BullmqRpcClient> {
    const lastEventId = await lastStreamId(options);
    const client = new BullmqRpcClient(options, lastEventId);
    await Promise.all([client.queue.waitUntilReady(), client.events.waitUntilReady()]);
    return client;
  }

  get inFlight(): number {
    return this.pending.size;
  }

  async call(job: string, payload: unknown, timeoutMs: number, signal?: AbortSignal): Promise<Reply> {
    if (this.closing) throw new ShoalError('CLIENT_CLOSED', 'the client is closed');
    if (signal?.aborted) throw callCancelled(job, signal);
    const body = encodeBoundedRequest(job, payload, this.options.maxBodyBytes);
    this.stats.calls++;
    const id = `${this.idPrefix}.${++this.sequence}`;
    const sentAt = Date.now();
    const deadline = sentAt + timeoutMs;
    const data: RequestJobData = { body: body.toString('utf8'), messageId: id, version: PROTOCOL_VERSION, sentAt, deadline };
    // Before the first await, in the caller's context: its active span is the publish span's parent.
    const trace = startPublishSpan(this.tracing, id, job);
    if (trace) data.headers = trace.headers;
    let call: QueuedCall | undefined;
    const reply = new Promise<Reply>((resolve, reject) => {
      call = { resolve, reject, timeoutMs, job, data, added: undefined, addedAt: undefined, misses: 0 };
      this.pending.add(id, call);
    });
    // It may time out while the add is still under way, before the caller holds it: not an unhandled rejection.
    reply.catch(() => undefined);
    onCallAborted(signal, reply, () => {
      if (!this.pending.abort(id, callCancelled(job, signal!))) return;
      // Not taken yet: remove it (after the add, as on a timeout). Taken: the worker running it hears the cancel.
      void call?.added?.then(() => this.queue.remove(id)).catch(() => undefined);
      publishControl(this.cancelPublisher(), this.options.namespace, { type: 'cancel', messageId: id })
        .catch((err: unknown) => this.options.logger.debug({ messageId: id, err: errorMessage(err) }, 'could not send a cancel'));
    });
    try {
      await this.add(id, call!);
      this.stats.confirmed++;
      trace?.end();
    } catch (err) {
      const failure = new PublishError(`Redis did not take request ${id}: ${(err as Error).message}`, { cause: err, code: 'PUBLISH_FAILED' });
      trace?.end(failure);
      this.pending.fail(id, failure);
    }
    return reply;
  }

  /** Adds (or adds again) the call's job; resolves once Redis has it. */
  private async add(id: string, call: QueuedCall): Promise<void> {
    call.addedAt = undefined;
    call.added = this.queue.add(call.job, call.data, {
      jobId: id,
      attempts: this.options.deliveryLimit + 1,
      removeOnComplete: true,
      removeOnFail: { count: FAILED_KEPT },
    });
    await call.added;
    call.addedAt = Date.now();
    call.misses = 0;
  }

  /**
   * Adds again the jobs of waiting calls that Redis no longer holds. One check
   * at a time: during an outage it waits for Redis, and runs when it is back.
   */
  private async addLostJobsAgain(minAgeMs: number): Promise<void> {
    if (this.checking || this.closing || this.pending.size === 0) return;
    this.checking = true;
    try {
      const due = callsToCheck(this.pending.entries(), Date.now(), minAgeMs);
      if (due.length === 0) return;
      // BullMQ's Redis backend runs on an ioredis client made from our options (its own type is a narrower copy).
      const redis = (await this.queue.getBackend().client) as unknown as Redis;
      const exists = await keysExist(redis, due.map(([id]) => this.queue.toKey(id)));
      const lost = lostAfterCheck(due, exists).filter(([id]) => this.pending.has(id));
      if (lost.length === 0) return;
      this.options.logger.warn({ requests: lost.length }, 'Redis no longer holds some waiting requests (did it restart without persistence?): adding them again');
      await Promise.all(
        lost.map(async ([id, call]) => {
          this.stats.republished++;
          await this.add(id, call).catch((err: unknown) => this.options.logger.warn({ id, err: (err as Error).message }, 'could not add a lost request again; the next check tries again'));
        }),
      );
    } catch (err) {
      this.options.logger.debug({ err: (err as Error).message }, 'lost-job check failed; trying again at the next one');
    } finally {
      this.checking = false;
    }
  }

  private onCompleted(jobId: string, returnvalue: unknown): void {
    const reply = replyOf(returnvalue);
    if (reply) this.onReply(jobId, reply);
    else if (this.pending.has(jobId)) this.pending.fail(jobId, new ValidationError('MALFORMED_REPLY', `job ${jobId} completed with a value that is not a reply`));
  }

  private onReply(jobId: string, reply: Reply): void {
    // Every client reads every completion of the queue: only its own count.
    if (this.pending.has(jobId) || jobId.startsWith(this.idPrefix)) this.pending.answer(jobId, reply);
  }

  /** The connection cancels go out on, opened at the first one: most clients never cancel. */
  private cancelPublisher(): Redis {
    if (!this.publisher) {
      this.publisher = new Redis(redisConnection(this.options.redisUrl, `${this.options.name} cancels`));
      this.publisher.on('error', (err: Error) => this.options.logger.debug({ err: err.message }, 'cancel publisher error'));
    }
    return this.publisher;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.pending.whenIdle();
      clearInterval(this.lostJobCheck);
      await this.publisher?.quit().catch(() => this.publisher?.disconnect());
      await this.events.close().catch(() => undefined);
      await this.queue.close().catch(() => undefined);
    })();
    return this.closing;
  }
}

/** The id of the events stream's newest entry ("0" when empty): where this client's reader starts. */
function lastStreamId(options: BullmqRpcClientOptions): Promise<string> {
  return withRedisOnce(options.redisUrl, `${options.name} setup`, async (redis) => {
    const [last] = (await redis.xrevrange(`${queuePrefix(options.namespace)}:${QUEUE_NAME}:events`, '+', '-', 'COUNT', 1)) as [string, string[]][];
    return last?.[0] ?? '0';
  });
}
