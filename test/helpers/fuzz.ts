import fc from 'fast-check';
import { REPLY_TO_DIRECT, topologyFor } from '../../infra/amqp/topology.js';
import {
  HEADER_DEADLINE,
  HEADER_DELIVERY_COUNT,
  HEADER_SENT_AT,
  HEADER_VERSION,
  type Reply,
} from '../../infra/protocol.js';
import { rawChannel, startWorker, waitFor } from './broker.js';
import {
  body,
  countErrorCodes,
  deadlinePassed,
  FUZZ_MAX_BODY_BYTES,
  HOUR_MS,
  replyWord,
  stillAnswers,
  time,
  timeOffset,
  timeValue,
  verdictFor,
  version,
  type FuzzReport,
  type TimeValue,
} from './fuzz-model.js';

/**
 * Fuzzing a worker with raw messages (good, bad and ugly) straight onto its
 * RabbitMQ request queue, and accounting for every one: answered ok,
 * dead-lettered (with an error reply when someone can be answered), or run
 * with its reply sent where nobody reads it. Shared by
 * test/integration/fuzz.test.ts (a few hundred inputs) and the `fuzz`
 * benchmark (10,000). The bodies, times and the worker's checks are shared
 * with the BullMQ fuzzer (fuzz-model.ts).
 */

/** A queue that does not exist: replies sent there vanish, so only the worker's stats can tell. */
const NOWHERE = 'fuzz.nowhere';
/**
 * A per-message TTL long enough that the broker never expires a message
 * during a run; half an hour, so that sent an hour ago it has run out, and
 * sent now it has not.
 */
const TTL_MS = HOUR_MS / 2;

interface FuzzMessage {
  messageId: string;
  body: Buffer;
  replyTo: 'direct' | 'nowhere' | undefined;
  correlationId: string | undefined;
  /** Header values; undefined means the header is absent. */
  version: unknown;
  deliveryCount: unknown;
  extraHeader: string | undefined;
  sentAt: TimeValue;
  deadline: TimeValue;
  /** The AMQP expiration property (a per-message TTL, in ms, as text). */
  expiration: string | undefined;
  /** The AMQP type property: the producer puts the job's name there; the worker goes by the body. */
  type: string | undefined;
}

const message = fc.record({
  body,
  replyTo: fc.constantFrom<FuzzMessage['replyTo']>('direct', 'direct', 'direct', 'nowhere', undefined),
  hasCorrelationId: fc.constantFrom(true, true, true, true, true, false),
  version,
  deliveryCount: fc.constantFrom(undefined, 0, 1, 7, 'abc', -3),
  extraHeader: fc.option(fc.string({ maxLength: 20 }), { nil: undefined }),
  sentAt: time(true),
  deadline: time(false),
  expiration: fc.constantFrom(undefined, undefined, String(TTL_MS)),
  type: fc.oneof(fc.constant(undefined), fc.constantFrom('echo', 'sleep', 'cpu', 'no-such-job'), fc.string({ maxLength: 40 })),
});

export function generateFuzz(seed: number, count: number): FuzzMessage[] {
  return fc.sample(message, { numRuns: count, seed }).map((m, i) => ({
    messageId: `fuzz-${i}`,
    body: m.body,
    replyTo: m.replyTo,
    correlationId: m.hasCorrelationId ? `corr-${i}` : undefined,
    version: m.version,
    deliveryCount: m.deliveryCount,
    extraHeader: m.extraHeader,
    sentAt: m.sentAt,
    deadline: m.deadline,
    expiration: m.expiration,
    type: m.type,
  }));
}

/** What should become of a message: the worker's checks, in its order, written out independently. */
interface Expected {
  outcome: 'ok' | 'dead';
  /** The reply the test should see: 'ok', an error code, or null when none can reach it. */
  reply: string | null;
  /** Dead-lettered without a reply because its caller's deadline had passed. */
  expired?: boolean;
}

/** Whether the caller had stopped waiting: an hour ago is past, ten minutes ahead is not. */
function expiredFor(m: FuzzMessage): boolean {
  const passed = deadlinePassed(m.deadline);
  if (passed !== 'absent') return passed;
  if (m.expiration === undefined) return false;
  const sentAt = timeOffset(m.sentAt);
  if (sentAt === 'absent') return false;
  // sent-at + expiration: half an hour from an hour ago has run out; from now or later it has not; from 1970, long ago.
  return sentAt === 'garbage-negative' || sentAt + Number(m.expiration) < 0;
}

export function expectedFor(m: FuzzMessage): Expected {
  if (m.replyTo === undefined || m.correlationId === undefined) return { outcome: 'dead', reply: null }; // nobody to answer
  const visible = m.replyTo === 'direct';
  const verdict = verdictFor(m.body, m.version, expiredFor(m));
  // Nobody waits for it any more: not run, not answered.
  if (verdict === 'expired') return { outcome: 'dead', reply: null, expired: true };
  return { outcome: verdict === 'ok' ? 'ok' : 'dead', reply: visible ? verdict : null };
}

export interface RabbitFuzzReport extends FuzzReport {
  /** Run, with the reply sent to a queue nobody reads. */
  ranUnanswered: number;
}

/**
 * Starts a worker on `namespace`, publishes `count` fuzzed messages, waits for
 * every one to be settled and accounts for each. The caller removes the namespace.
 */
export async function runFuzz(namespace: string, seed: number, count: number): Promise<RabbitFuzzReport> {
  const started = performance.now();
  const worker = await startWorker(namespace, 'fuzzed', { maxBodyBytes: FUZZ_MAX_BODY_BYTES, deliveryLimit: 1 });
  const { requestQueue, deadQueue } = topologyFor(namespace);
  const messages = generateFuzz(seed, count);
  const expected = new Map(messages.map((m) => [m.messageId, expectedFor(m)]));
  const replies = new Map<string, Reply[]>();
  const { connection, channel } = await rawChannel();
  try {
    await channel.consume(REPLY_TO_DIRECT, (msg) => {
      if (!msg) return;
      const id = String(msg.properties.correlationId);
      replies.set(id, [...(replies.get(id) ?? []), JSON.parse(msg.content.toString()) as Reply]);
    }, { noAck: true });

    for (const m of messages) {
      const publishedAt = Date.now();
      const headers: Record<string, unknown> = {};
      if (m.version !== undefined) headers[HEADER_VERSION] = m.version;
      if (m.deliveryCount !== undefined) headers[HEADER_DELIVERY_COUNT] = m.deliveryCount;
      if (m.extraHeader !== undefined) headers['x-fuzz'] = m.extraHeader;
      if (m.sentAt !== undefined) headers[HEADER_SENT_AT] = timeValue(m.sentAt, publishedAt);
      if (m.deadline !== undefined) headers[HEADER_DEADLINE] = timeValue(m.deadline, publishedAt);
      channel.sendToQueue(requestQueue, m.body, {
        messageId: m.messageId,
        ...(m.correlationId !== undefined ? { correlationId: m.correlationId } : {}),
        ...(m.replyTo !== undefined ? { replyTo: m.replyTo === 'direct' ? REPLY_TO_DIRECT : NOWHERE } : {}),
        ...(m.expiration !== undefined ? { expiration: m.expiration } : {}),
        ...(m.type !== undefined ? { type: m.type } : {}),
        headers,
      });
    }
    await channel.waitForConfirms();

    // Every message ends run (processed) or in the dead-letter queue (at-least-once dead-lettering is asynchronous).
    const settleMs = 10_000 + 5 * count;
    const deadCount = async () => (await channel.checkQueue(deadQueue)).messageCount;
    await waitFor('every message run or dead-lettered', async () => worker.stats().processed + (await deadCount()) === count, settleMs);
    const { processed, failed } = worker.stats();
    const deadIds: string[] = [];
    for (let msg = await channel.get(deadQueue, { noAck: true }); msg; msg = await channel.get(deadQueue, { noAck: true })) {
      deadIds.push(String(msg.properties.messageId));
    }

    const mismatches: string[] = [];
    const deadTimes = new Map<string, number>();
    for (const id of deadIds) deadTimes.set(id, (deadTimes.get(id) ?? 0) + 1);
    for (const m of messages) {
      const want = expected.get(m.messageId)!;
      const got = m.correlationId === undefined ? [] : (replies.get(m.correlationId) ?? []);
      const gotReply = replyWord(got);
      const isDead = deadTimes.get(m.messageId) ?? 0;
      if (gotReply !== want.reply || isDead !== (want.outcome === 'dead' ? 1 : 0)) {
        mismatches.push(`${m.messageId}: want ${want.outcome}/${want.reply}, got reply ${gotReply}, in DLQ ${isDead}x ` +
          `(replyTo ${m.replyTo}, corr ${m.correlationId}, version ${String(m.version)}, sentAt ${JSON.stringify(m.sentAt)}, ` +
          `deadline ${JSON.stringify(m.deadline)}, expiration ${m.expiration}, type ${JSON.stringify(m.type)}, body ${JSON.stringify(m.body.subarray(0, 60).toString())})`);
      }
    }

    // The books balance: answered ok + run with an unread reply + dead-lettered = sent.
    const imbalances: string[] = [];
    const answeredOk = [...replies.values()].filter((r) => r[0]?.ok).length;
    const ranUnanswered = processed - answeredOk;
    const wantUnanswered = messages.filter((m) => expected.get(m.messageId)!.outcome === 'ok' && m.replyTo === 'nowhere').length;
    const expired = messages.filter((m) => expected.get(m.messageId)!.expired).length;
    if (ranUnanswered !== wantUnanswered) imbalances.push(`ran with an unread reply: ${ranUnanswered}, want ${wantUnanswered}`);
    if (answeredOk + ranUnanswered + deadIds.length !== count) imbalances.push(`ok ${answeredOk} + unread ${ranUnanswered} + dead ${deadIds.length} != sent ${count}`);
    // The worker counts a failure for each dead letter except the expired ones, which it neither runs nor answers.
    if (failed + expired !== deadIds.length) imbalances.push(`worker failures ${failed} + expired ${expired} != dead letters ${deadIds.length}`);
    const left = (await channel.checkQueue(requestQueue)).messageCount;
    if (left !== 0) imbalances.push(`${left} messages left in the request queue`);

    const errorReplies = countErrorCodes(replies.values());
    const stillServing = await stillAnswers(namespace, 'rabbitmq');
    return { transport: 'rabbitmq', seed, sent: count, answeredOk, ranUnanswered, deadLettered: deadIds.length, errorReplies, expired, mismatches, imbalances, stillServing, durationMs: Math.round(performance.now() - started) };
  } finally {
    await connection.close();
    await worker.close();
  }
}
