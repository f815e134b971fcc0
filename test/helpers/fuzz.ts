import fc from 'fast-check';
import {
  HEADER_DEADLINE,
  HEADER_DELIVERY_COUNT,
  HEADER_SENT_AT,
  HEADER_VERSION,
  PROTOCOL_VERSION,
  REPLY_TO_DIRECT,
  requestBodySchema,
  topologyFor,
  type Reply,
} from '../../infra/protocol.js';
import { builtinJobs } from '../../worker/jobs.js';
import { connectClient, rawChannel, startWorker, waitFor } from './broker.js';

/**
 * Fuzzing a worker with raw messages (good, bad and ugly) straight onto its
 * request queue, and accounting for every one: answered ok, dead-lettered
 * (with an error reply when someone can be answered), or run with its reply
 * sent where nobody reads it. Shared by test/integration/fuzz.test.ts (a few
 * hundred inputs) and the `fuzz` benchmark (10,000).
 *
 * A new seed each run, printed; SHOAL_FUZZ_SEED=<seed> replays one.
 */
export function fuzzSeed(env: NodeJS.ProcessEnv = process.env): number {
  const given = env.SHOAL_FUZZ_SEED;
  if (given !== undefined && given !== '') {
    const seed = Number(given);
    if (!Number.isSafeInteger(seed)) throw new Error(`SHOAL_FUZZ_SEED must be a whole number (got ${JSON.stringify(given)})`);
    return seed;
  }
  return Math.floor(Math.random() * 2 ** 31);
}

export const FUZZ_MAX_BODY_BYTES = 2048;
/** A queue that does not exist: replies sent there vanish, so only the worker's stats can tell. */
const NOWHERE = 'fuzz.nowhere';
const HOUR_MS = 3_600_000;
/**
 * Times are offsets from the moment of publishing, far from "now" either way
 * (an hour ago, ten minutes ahead), so whether a request has expired does not
 * depend on how long the run takes.
 */
const PAST = -HOUR_MS;
const FUTURE = 10 * 60_000;
/**
 * A per-message TTL long enough that the broker never expires a message
 * during a run; half an hour, so that sent an hour ago it has run out, and
 * sent now it has not.
 */
const TTL_MS = HOUR_MS / 2;

/** A header's value: a time as an offset from publishing (made absolute then), or a literal. */
type TimeValue = { offset: number; asString: boolean } | { literal: unknown } | undefined;

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

const json = (value: unknown) => Buffer.from(JSON.stringify(value));

// Valid requests weigh as much as all the kinds of garbage together, so both paths get exercised.
const body = fc.oneof(
  { arbitrary: fc.jsonValue({ maxDepth: 2 }).map((payload) => json({ job: 'echo', payload })), weight: 5 },
  { arbitrary: fc.integer({ min: 0, max: 3 }).map((ms) => json({ job: 'sleep', payload: { ms } })), weight: 3 },
  fc.oneof(fc.constant(null), fc.constant({ ms: -1 }), fc.string(), fc.record({ ms: fc.double({ min: -10, max: 10 }) })).map((payload) => json({ job: 'sleep', payload })),
  fc.string({ unit: 'binary' }).map((s) => Buffer.from(`{${s}`)), // malformed JSON
  fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)),
  fc.jsonValue({ maxDepth: 2 }).map(json), // JSON of (mostly) the wrong shape
  fc.record({ job: fc.oneof(fc.integer(), fc.constant(''), fc.string()), payload: fc.jsonValue({ maxDepth: 1 }) }).map(json),
  fc.integer({ min: FUZZ_MAX_BODY_BYTES, max: 3 * FUZZ_MAX_BODY_BYTES }).map((n) => json({ job: 'echo', payload: 'x'.repeat(n) })),
  fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/).filter((job) => !Object.hasOwn(builtinJobs, job)).map((job) => json({ job, payload: null })),
);

/** Absent most of the time; else an hour ago, now, ten minutes ahead (as a number or as text), or garbage. */
const time = (now: boolean): fc.Arbitrary<TimeValue> => fc.oneof(
  { arbitrary: fc.constant(undefined), weight: 4 },
  fc.record({ offset: fc.constantFrom(PAST, FUTURE, ...(now ? [0] : [])), asString: fc.boolean() }),
  fc.constantFrom<TimeValue>({ literal: 'abc' }, { literal: '' }, { literal: -5 }),
);

const message = fc.record({
  body,
  replyTo: fc.constantFrom<FuzzMessage['replyTo']>('direct', 'direct', 'direct', 'nowhere', undefined),
  hasCorrelationId: fc.constantFrom(true, true, true, true, true, false),
  version: fc.oneof(
    { arbitrary: fc.constantFrom<unknown>(undefined, PROTOCOL_VERSION, String(PROTOCOL_VERSION)), weight: 6 },
    { arbitrary: fc.constantFrom<unknown>(PROTOCOL_VERSION + 1, 99), weight: 1 }, // from a newer producer
    { arbitrary: fc.constantFrom<unknown>(0, -1, 1.5, 'abc'), weight: 1 },
  ),
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

function headerValue(value: TimeValue, publishedAt: number): unknown {
  if (value === undefined) return undefined;
  if ('literal' in value) return value.literal;
  const at = publishedAt + value.offset;
  return value.asString ? String(at) : at;
}

/** What should become of a message: the worker's checks, in its order, written out independently. */
interface Expected {
  outcome: 'ok' | 'dead';
  /** The reply the test should see: 'ok', an error code, or null when none can reach it. */
  reply: string | null;
  /** Dead-lettered without a reply because its caller's deadline had passed. */
  expired?: boolean;
}

/** A time header as the protocol reads it: a finite number, or absent. */
function timeOffset(value: TimeValue): number | 'absent' | 'garbage-negative' {
  if (value === undefined) return 'absent';
  if ('offset' in value) return value.offset;
  return value.literal === -5 ? 'garbage-negative' : 'absent'; // 'abc' and '' are not numbers
}

/** Whether the caller had stopped waiting: an hour ago is past, ten minutes ahead is not. */
function expiredFor(m: FuzzMessage): boolean {
  const deadline = timeOffset(m.deadline);
  if (deadline !== 'absent') return deadline === 'garbage-negative' || deadline < 0; // -5 is 1970
  if (m.expiration === undefined) return false;
  const sentAt = timeOffset(m.sentAt);
  if (sentAt === 'absent') return false;
  // sent-at + expiration: half an hour from an hour ago has run out; from now or later it has not; from 1970, long ago.
  return sentAt === 'garbage-negative' || sentAt + Number(m.expiration) < 0;
}

export function expectedFor(m: FuzzMessage): Expected {
  const visible = m.replyTo === 'direct' && m.correlationId !== undefined;
  const dead = (code: string): Expected => ({ outcome: 'dead', reply: visible ? code : null });
  if (m.replyTo === undefined || m.correlationId === undefined) return { outcome: 'dead', reply: null }; // nobody to answer
  if (m.body.length > FUZZ_MAX_BODY_BYTES) return dead('BODY_TOO_LARGE');
  const version = Number(m.version ?? PROTOCOL_VERSION);
  if (!Number.isInteger(version) || version < 1) return dead('BAD_VERSION');
  // Requeued for an upgraded worker, then answered on the last delivery the queue allows.
  if (version > PROTOCOL_VERSION) return dead('UNSUPPORTED_VERSION');
  let parsed: unknown;
  try {
    parsed = JSON.parse(m.body.toString('utf8'));
  } catch {
    return dead('MALFORMED_JSON');
  }
  const request = requestBodySchema.safeParse(parsed);
  if (!request.success) return dead('BAD_REQUEST');
  // Nobody waits for it any more: not run, not answered.
  if (expiredFor(m)) return { outcome: 'dead', reply: null, expired: true };
  const { job, payload } = request.data;
  const ok: Expected = { outcome: 'ok', reply: visible ? 'ok' : null };
  if (job === 'echo') return ok;
  if (job === 'sleep') {
    const ms = (payload as { ms?: unknown } | null)?.ms;
    return typeof payload === 'object' && Number.isInteger(ms) && (ms as number) >= 0 && (ms as number) <= 600_000 ? ok : dead('BAD_PAYLOAD');
  }
  return dead('UNKNOWN_JOB');
}

export interface FuzzReport {
  seed: number;
  sent: number;
  answeredOk: number;
  /** Run, with the reply sent to a queue nobody reads. */
  ranUnanswered: number;
  deadLettered: number;
  /** Of the dead-lettered: with an error reply the fuzzer read, by code. */
  errorReplies: Record<string, number>;
  /** Of the dead-lettered: past their deadline, so neither run nor answered. */
  expired: number;
  /** Messages whose fate differs from the expectation; empty when all is well. */
  mismatches: string[];
  /** Bookkeeping that does not add up; empty when all is well. */
  imbalances: string[];
  /** The worker answered a plain call after the fuzzing. */
  stillServing: boolean;
  durationMs: number;
}

/**
 * Starts a worker on `namespace`, publishes `count` fuzzed messages, waits for
 * every one to be settled and accounts for each. The caller removes the namespace.
 */
export async function runFuzz(namespace: string, seed: number, count: number): Promise<FuzzReport> {
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
      if (m.sentAt !== undefined) headers[HEADER_SENT_AT] = headerValue(m.sentAt, publishedAt);
      if (m.deadline !== undefined) headers[HEADER_DEADLINE] = headerValue(m.deadline, publishedAt);
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
      const gotReply = got.length === 0 ? null : got.map((r) => (r.ok ? 'ok' : r.error.code)).join('+');
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

    const errorReplies: Record<string, number> = {};
    for (const list of replies.values()) {
      for (const r of list) if (!r.ok) errorReplies[r.error.code] = (errorReplies[r.error.code] ?? 0) + 1;
    }
    const stillServing = await stillAnswers(namespace);
    return { seed, sent: count, answeredOk, ranUnanswered, deadLettered: deadIds.length, errorReplies, expired, mismatches, imbalances, stillServing, durationMs: Math.round(performance.now() - started) };
  } finally {
    await connection.close();
    await worker.close();
  }
}

/** The worker answers a plain call after the fuzzing. */
async function stillAnswers(namespace: string): Promise<boolean> {
  const client = await connectClient(namespace, 1);
  try {
    const reply = await client.call('echo', 'still here', 5_000);
    return reply.ok && reply.result === 'still here' && reply.workerId === 'fuzzed';
  } finally {
    await client.close();
  }
}
