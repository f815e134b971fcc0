import { Queue, QueueEvents, type JobsOptions } from 'bullmq';
import { afterEach, beforeEach } from 'vitest';
import { listFailed } from '../../infra/transport/bullmq/dead-letters.js';
import { REPLY_TO_DIRECT, topologyFor } from '../../infra/amqp/topology.js';
import { HEADER_VERSION, replySchema, type Reply } from '../../infra/protocol.js';
import { bullConnection, QUEUE_NAME, queueOptions, queuePrefix } from '../../infra/transport/bullmq/connection.js';
import { replyFromFailure } from '../../infra/transport/bullmq/job-message.js';
import type { TransportKind } from '../../infra/transport/types.js';
import { rawChannel, REDIS_URL, waitFor } from './broker.js';

/**
 * Requests written by hand, as a foreign or broken client would send them,
 * straight onto a pool's queue on either transport; their replies and dead
 * letters read back the same way on both. On RabbitMQ a raw message on the
 * request queue, answered on direct reply-to, dead-lettered to the DLQ; on
 * BullMQ a raw job added with the bullmq Queue API, answered by its
 * completion or failure event, dead-lettered to the failed set (read as
 * `shoal-dead --transport bullmq list` reads it).
 */
export interface RawRequest {
  /** The correlation and message id (BullMQ: the job id). */
  id: string;
  body: string | Buffer;
  /** The protocol version header (BullMQ: data.version); absent when undefined. */
  version?: unknown;
  /** BullMQ only: the job's data as given, instead of shoal's {body, messageId, version}. */
  data?: unknown;
  /** BullMQ only: the job's attempts (default 2, as a client with a delivery limit of 1 adds it). */
  attempts?: number;
}

export interface DeadLetter {
  id: string;
  /** RabbitMQ: x-first-death-reason (rejected, delivery_limit); BullMQ: the failed reply's code. */
  reason: string | undefined;
}

export interface RawLine {
  send(request: RawRequest): Promise<void>;
  /** The replies read so far, by id. */
  readonly replies: Map<string, Reply[]>;
  /** The first reply to a request, once it comes. */
  reply(id: string): Promise<Reply>;
  /** Waits for at least `count` dead letters; reads them without removing them (BullMQ) or takes them (RabbitMQ). */
  deadLetters(count: number): Promise<DeadLetter[]>;
  close(): Promise<void>;
}

export function openRawLine(namespace: string, transport: TransportKind): Promise<RawLine> {
  return transport === 'rabbitmq' ? rabbitLine(namespace) : bullmqLine(namespace);
}

/** A raw line on each test's namespace (`namespace()` is read in the test's beforeEach), opened before the test and closed after it. */
export function useRawLine(namespace: () => string, transport: TransportKind): Omit<RawLine, 'close'> {
  let line: RawLine | undefined;
  beforeEach(async () => {
    line = await openRawLine(namespace(), transport);
  });
  afterEach(async () => {
    await line?.close();
    line = undefined;
  });
  const open = (): RawLine => {
    if (!line) throw new Error('the raw line is open only while a test runs');
    return line;
  };
  return {
    send: (request) => open().send(request),
    get replies() {
      return open().replies;
    },
    reply: (id) => open().reply(id),
    deadLetters: (count) => open().deadLetters(count),
  };
}

function lineWith(replies: Map<string, Reply[]>, rest: Omit<RawLine, 'replies' | 'reply'>): RawLine {
  return { ...rest, replies, reply: (id) => waitFor(`a reply to ${id}`, () => replies.get(id)?.[0]) };
}

function record(replies: Map<string, Reply[]>, id: string, reply: Reply): void {
  replies.set(id, [...(replies.get(id) ?? []), reply]);
}

/** A job's end as a reply: a completion's return value, or a failure's reason; what is not a reply becomes NOT_A_REPLY. */
export function recordJobEnds(events: QueueEvents, replies: Map<string, Reply[]>): void {
  events.on('completed', ({ jobId, returnvalue }) => {
    const parsed = replySchema.safeParse(returnvalue);
    const notReply: Reply = { ok: false, error: { code: 'NOT_A_REPLY', message: JSON.stringify(returnvalue) }, workerId: '?', timings: { queuedMs: null, serviceMs: 0 } };
    record(replies, jobId, parsed.success ? parsed.data : notReply);
  });
  events.on('failed', ({ jobId, failedReason }) => record(replies, jobId, replyFromFailure(failedReason)));
}

async function rabbitLine(namespace: string): Promise<RawLine> {
  const { requestQueue, deadQueue } = topologyFor(namespace);
  const { connection, channel } = await rawChannel();
  const replies = new Map<string, Reply[]>();
  await channel.consume(REPLY_TO_DIRECT, (msg) => msg && record(replies, String(msg.properties.correlationId), JSON.parse(msg.content.toString()) as Reply), { noAck: true });
  const dead: DeadLetter[] = [];
  return lineWith(replies, {
    async send({ id, body, version }) {
      const headers = version === undefined ? {} : { [HEADER_VERSION]: version };
      channel.sendToQueue(requestQueue, Buffer.from(body), { correlationId: id, messageId: id, replyTo: REPLY_TO_DIRECT, headers });
      await channel.waitForConfirms();
    },
    async deadLetters(count) {
      await waitFor(`${count} dead letters`, async () => {
        const msg = await channel.get(deadQueue, { noAck: true });
        if (msg) dead.push({ id: String(msg.properties.messageId), reason: msg.properties.headers?.['x-first-death-reason'] as string | undefined });
        return dead.length >= count;
      });
      return [...dead];
    },
    close: () => connection.close(),
  });
}

async function bullmqLine(namespace: string): Promise<RawLine> {
  const queue = new Queue(QUEUE_NAME, queueOptions(REDIS_URL, namespace, 'shoal test raw'));
  const events = new QueueEvents(QUEUE_NAME, { connection: bullConnection(REDIS_URL, 'shoal test raw events'), prefix: queuePrefix(namespace) });
  await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
  const replies = new Map<string, Reply[]>();
  recordJobEnds(events, replies);
  return lineWith(replies, {
    async send({ id, body, version, data, attempts = 2 }) {
      const sentAt = Date.now();
      const request = data !== undefined ? data : { body: body.toString(), messageId: id, sentAt, deadline: sentAt + 60_000, ...(version === undefined ? {} : { version }) };
      const opts: JobsOptions = { jobId: id, attempts, removeOnComplete: true };
      await queue.add('raw', request, opts);
    },
    async deadLetters(count) {
      const read = async () => JSON.parse(await listFailed({ redisUrl: REDIS_URL, namespace, limit: 1000 }, true)) as { deadLetters: { correlationId: string; reason: string | null }[] };
      const { deadLetters } = await waitFor(`${count} failed jobs`, async () => { const listed = await read(); return listed.deadLetters.length >= count && listed; });
      return deadLetters.map((d) => ({ id: d.correlationId, reason: d.reason ?? undefined }));
    },
    async close() {
      await events.close();
      await queue.close();
    },
  });
}
