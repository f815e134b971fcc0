import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HEADER_DELIVERY_COUNT, HEADER_VERSION, PROTOCOL_VERSION, REPLY_TO_DIRECT, requestBodySchema, topologyFor, type Reply } from '../../infra/protocol.js';
import { builtinJobs } from '../../worker/jobs.js';
import { rawChannel, waitFor } from '../helpers/broker.js';
import { usePool } from '../helpers/fixture.js';

/**
 * Throws ~300 random messages (good, bad and ugly) at one worker, straight onto
 * the request queue, and checks that the worker stays up and that every message
 * ends exactly once: answered ok, or dead-lettered (with an error reply when
 * someone could be answered), or run with its reply sent where nobody reads it.
 *
 * Random but reproducible: a failure names its seed; rerun with FUZZ_SEED=<seed>.
 */
const SEED = Number(process.env.FUZZ_SEED ?? 20_240_611);
const COUNT = 300;
const MAX_BODY_BYTES = 2048;
/** A queue that does not exist: replies sent there vanish, so only the worker's stats can tell. */
const NOWHERE = 'fuzz.nowhere';

interface FuzzMessage {
  messageId: string;
  body: Buffer;
  replyTo: 'direct' | 'nowhere' | undefined;
  correlationId: string | undefined;
  /** Header values; undefined means the header is absent. */
  version: unknown;
  deliveryCount: unknown;
  extraHeader: string | undefined;
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
  fc.integer({ min: MAX_BODY_BYTES, max: 3 * MAX_BODY_BYTES }).map((n) => json({ job: 'echo', payload: 'x'.repeat(n) })),
  fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/).filter((job) => !Object.hasOwn(builtinJobs, job)).map((job) => json({ job, payload: null })),
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
});

function generate(seed: number): FuzzMessage[] {
  return fc.sample(message, { numRuns: COUNT, seed }).map((m, i) => ({
    messageId: `fuzz-${i}`,
    body: m.body,
    replyTo: m.replyTo,
    correlationId: m.hasCorrelationId ? `corr-${i}` : undefined,
    version: m.version,
    deliveryCount: m.deliveryCount,
    extraHeader: m.extraHeader,
  }));
}

/** What should become of a message: the worker's checks, in its order, written out independently. */
interface Expected {
  outcome: 'ok' | 'dead';
  /** The reply the test should see: 'ok', an error code, or null when none can reach it. */
  reply: string | null;
}

function expectedFor(m: FuzzMessage): Expected {
  const visible = m.replyTo === 'direct' && m.correlationId !== undefined;
  const dead = (code: string): Expected => ({ outcome: 'dead', reply: visible ? code : null });
  if (m.replyTo === undefined || m.correlationId === undefined) return { outcome: 'dead', reply: null }; // nobody to answer
  if (m.body.length > MAX_BODY_BYTES) return dead('BODY_TOO_LARGE');
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
  const { job, payload } = request.data;
  const ok: Expected = { outcome: 'ok', reply: visible ? 'ok' : null };
  if (job === 'echo') return ok;
  if (job === 'sleep') {
    const ms = (payload as { ms?: unknown } | null)?.ms;
    return typeof payload === 'object' && Number.isInteger(ms) && (ms as number) >= 0 && (ms as number) <= 600_000 ? ok : dead('BAD_PAYLOAD');
  }
  return dead('UNKNOWN_JOB');
}

describe('fuzzing the worker with raw messages', () => {
  const pool = usePool();

  it(`accounts for every one of ${COUNT} random messages exactly once, and keeps serving (seed ${SEED})`, async () => {
    const worker = await pool.worker('fuzzed', { maxBodyBytes: MAX_BODY_BYTES, deliveryLimit: 1 });
    const { requestQueue, deadQueue } = topologyFor(pool.namespace);
    const messages = generate(SEED);
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
        const headers: Record<string, unknown> = {};
        if (m.version !== undefined) headers[HEADER_VERSION] = m.version;
        if (m.deliveryCount !== undefined) headers[HEADER_DELIVERY_COUNT] = m.deliveryCount;
        if (m.extraHeader !== undefined) headers['x-fuzz'] = m.extraHeader;
        channel.sendToQueue(requestQueue, m.body, {
          messageId: m.messageId,
          ...(m.correlationId !== undefined ? { correlationId: m.correlationId } : {}),
          ...(m.replyTo !== undefined ? { replyTo: m.replyTo === 'direct' ? REPLY_TO_DIRECT : NOWHERE } : {}),
          headers,
        });
      }
      await channel.waitForConfirms();

      // Every message has been settled by the worker (ok or dead-lettered) ...
      await waitFor('the worker to settle every message', () => worker.stats().processed + worker.stats().failed === COUNT, 10_000);
      const { processed, failed } = worker.stats();
      // ... and every dead-lettered one has reached the dead-letter queue (at-least-once dead-lettering is asynchronous).
      await waitFor(`${failed} dead letters`, async () => (await channel.checkQueue(deadQueue)).messageCount === failed, 5_000);
      const deadIds: string[] = [];
      for (let msg = await channel.get(deadQueue, { noAck: true }); msg; msg = await channel.get(deadQueue, { noAck: true })) {
        deadIds.push(String(msg.properties.messageId));
      }

      const mismatches: string[] = [];
      for (const m of messages) {
        const want = expected.get(m.messageId)!;
        const got = m.correlationId === undefined ? [] : (replies.get(m.correlationId) ?? []);
        const gotReply = got.length === 0 ? null : got.map((r) => (r.ok ? 'ok' : r.error.code)).join('+');
        const isDead = deadIds.filter((id) => id === m.messageId).length;
        if (gotReply !== want.reply || isDead !== (want.outcome === 'dead' ? 1 : 0)) {
          mismatches.push(`${m.messageId}: want ${want.outcome}/${want.reply}, got reply ${gotReply}, in DLQ ${isDead}x ` +
            `(replyTo ${m.replyTo}, corr ${m.correlationId}, version ${String(m.version)}, body ${JSON.stringify(m.body.subarray(0, 60).toString())})`);
        }
      }
      expect(mismatches, `seed ${SEED}`).toEqual([]);

      // The books balance: answered ok + run with an unread reply + dead-lettered = sent.
      const answeredOk = [...replies.values()].filter((r) => r[0]?.ok).length;
      const ranUnanswered = processed - answeredOk;
      expect(ranUnanswered).toBe(messages.filter((m) => expected.get(m.messageId)!.outcome === 'ok' && m.replyTo === 'nowhere').length);
      expect(answeredOk + ranUnanswered + deadIds.length).toBe(COUNT);
      expect(new Set(deadIds).size).toBe(deadIds.length);
      expect((await channel.checkQueue(requestQueue)).messageCount).toBe(0);
    } finally {
      await connection.close();
    }

    const client = await pool.client(1);
    expect(await client.call('echo', 'still here', 5_000)).toMatchObject({ ok: true, result: 'still here', workerId: 'fuzzed' });
  });
});
