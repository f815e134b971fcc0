import fc from 'fast-check';
import { PROTOCOL_VERSION, requestBodySchema, type Reply } from '../../infra/protocol.js';
import { builtinJobs } from '../../worker/jobs.js';
import { connectClient } from './broker.js';
import type { TransportKind } from '../../infra/transport/types.js';

/**
 * What the fuzzers of both transports share (test/helpers/fuzz.ts for
 * RabbitMQ, fuzz-bullmq.ts for BullMQ): the seed, the random request bodies
 * and times, the worker's checks written out independently (what should
 * become of a request), and the parts of the report both draw up.
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
export const HOUR_MS = 3_600_000;
/**
 * Times are offsets from the moment of publishing, far from "now" either way
 * (an hour ago, ten minutes ahead), so whether a request has expired does not
 * depend on how long the run takes.
 */
const PAST = -HOUR_MS;
const FUTURE = 10 * 60_000;

/** A time field's value: a time as an offset from publishing (made absolute then), or a literal. */
export type TimeValue = { offset: number; asString: boolean } | { literal: unknown } | undefined;

export const json = (value: unknown) => Buffer.from(JSON.stringify(value));

// Valid requests weigh as much as all the kinds of garbage together, so both paths get exercised.
export const body = fc.oneof(
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
export const time = (now: boolean): fc.Arbitrary<TimeValue> => fc.oneof(
  { arbitrary: fc.constant(undefined), weight: 4 },
  fc.record({ offset: fc.constantFrom(PAST, FUTURE, ...(now ? [0] : [])), asString: fc.boolean() }),
  fc.constantFrom<TimeValue>({ literal: 'abc' }, { literal: '' }, { literal: -5 }),
);

/** A protocol version: mostly current or absent, sometimes from a newer producer, sometimes garbage. */
export const version = fc.oneof(
  { arbitrary: fc.constantFrom<unknown>(undefined, PROTOCOL_VERSION, String(PROTOCOL_VERSION)), weight: 6 },
  { arbitrary: fc.constantFrom<unknown>(PROTOCOL_VERSION + 1, 99), weight: 1 },
  { arbitrary: fc.constantFrom<unknown>(0, -1, 1.5, 'abc'), weight: 1 },
);

export function timeValue(value: TimeValue, publishedAt: number): unknown {
  if (value === undefined) return undefined;
  if ('literal' in value) return value.literal;
  const at = publishedAt + value.offset;
  return value.asString ? String(at) : at;
}

/** A time as the protocol reads it: a finite number, or absent. */
export function timeOffset(value: TimeValue): number | 'absent' | 'garbage-negative' {
  if (value === undefined) return 'absent';
  if ('offset' in value) return value.offset;
  return value.literal === -5 ? 'garbage-negative' : 'absent'; // 'abc' and '' are not numbers
}

/** Whether a deadline had passed when published: an hour ago, or 1970. */
export function deadlinePassed(deadline: TimeValue): boolean | 'absent' {
  const offset = timeOffset(deadline);
  return offset === 'absent' ? 'absent' : offset === 'garbage-negative' || offset < 0;
}

/**
 * What the worker's checks make of a request that has someone to answer, in
 * their order: 'ok', an error code, or 'expired' (its caller had stopped
 * waiting: neither run nor answered by the worker).
 */
export function verdictFor(content: Buffer, versionValue: unknown, expired: boolean): string {
  if (content.length > FUZZ_MAX_BODY_BYTES) return 'BODY_TOO_LARGE';
  const v = Number(versionValue ?? PROTOCOL_VERSION);
  if (!Number.isInteger(v) || v < 1) return 'BAD_VERSION';
  // Requeued for an upgraded worker, then answered on the last delivery the queue allows.
  if (v > PROTOCOL_VERSION) return 'UNSUPPORTED_VERSION';
  let parsed: unknown;
  try {
    parsed = JSON.parse(content.toString('utf8'));
  } catch {
    return 'MALFORMED_JSON';
  }
  const request = requestBodySchema.safeParse(parsed);
  if (!request.success) return 'BAD_REQUEST';
  if (expired) return 'expired';
  const { job, payload } = request.data;
  if (job === 'echo') return 'ok';
  if (job === 'sleep') {
    const ms = (payload as { ms?: unknown } | null)?.ms;
    return typeof payload === 'object' && Number.isInteger(ms) && (ms as number) >= 0 && (ms as number) <= 600_000 ? 'ok' : 'BAD_PAYLOAD';
  }
  return 'UNKNOWN_JOB';
}

/** The report of a fuzz run, on either transport. */
export interface FuzzReport {
  transport: TransportKind;
  seed: number;
  sent: number;
  answeredOk: number;
  deadLettered: number;
  /** Error replies the fuzzer read, by code. */
  errorReplies: Record<string, number>;
  /** Of the dead-lettered: past their deadline, so not run. */
  expired: number;
  /** Messages whose fate differs from the expectation; empty when all is well. */
  mismatches: string[];
  /** Bookkeeping that does not add up; empty when all is well. */
  imbalances: string[];
  /** The worker answered a plain call after the fuzzing. */
  stillServing: boolean;
  durationMs: number;
}

/** Error replies by code. */
export function countErrorCodes(replies: Iterable<Reply[]>): Record<string, number> {
  const codes: Record<string, number> = {};
  for (const list of replies) {
    for (const r of list) if (!r.ok) codes[r.error.code] = (codes[r.error.code] ?? 0) + 1;
  }
  return codes;
}

/** Each id's replies as one word: null (none), 'ok', a code, or several joined by '+'. */
export function replyWord(replies: Reply[] | undefined): string | null {
  return !replies || replies.length === 0 ? null : replies.map((r) => (r.ok ? 'ok' : r.error.code)).join('+');
}

/** The worker answers a plain call after the fuzzing. */
export async function stillAnswers(namespace: string, transport: TransportKind): Promise<boolean> {
  const client = await connectClient(namespace, 1, transport);
  try {
    const reply = await client.call('echo', 'still here', 5_000);
    return reply.ok && reply.result === 'still here' && reply.workerId === 'fuzzed';
  } finally {
    await client.close();
  }
}

/** One line of figures for a report, as the test and the benchmark print it. */
export function describeReport(report: FuzzReport): string {
  const codes = Object.entries(report.errorReplies).sort(([, a], [, b]) => b - a).map(([code, n]) => `${code}=${n}`).join(' ');
  const extra = Object.entries(report as unknown as Record<string, unknown>)
    .filter(([key, value]) => typeof value === 'number' && !['seed', 'sent', 'answeredOk', 'deadLettered', 'expired', 'durationMs'].includes(key))
    .map(([key, value]) => `${key} ${String(value)}`);
  return `fuzz ${report.transport} seed ${report.seed}: sent ${report.sent}  answered ok ${report.answeredOk}  dead-lettered ${report.deadLettered} (expired ${report.expired})  ${extra.join('  ')}  ` +
    `mismatches ${report.mismatches.length}  imbalances ${report.imbalances.length}  still serving ${report.stillServing}  in ${(report.durationMs / 1000).toFixed(1)} s\n  error replies ${codes}`;
}
