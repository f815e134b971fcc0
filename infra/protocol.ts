import { z } from 'zod';
import { ValidationError } from './errors.js';
import { fastReply, fastRequestBody, JOB_NAME_PATTERN } from './protocol-checks.js';
import type { IncomingMessage } from './transport/incoming-message.js';

export { JOB_NAME_PATTERN };

/**
 * The message protocol, imported by both sides: requests, replies and control
 * messages. How they travel (the broker objects of one pool, direct reply-to)
 * is the transports' (infra/amqp/topology.ts).
 *
 * Versioning: a request carries `shoal-protocol` in its headers from version 2
 * on; one without it is version 1 (see requestHeaders). A worker serves every
 * version up to its own. A request from a newer producer is
 * requeued (so that an upgraded worker can take it during a rollout) until the
 * delivery limit, then answered with UNSUPPORTED_VERSION.
 */
export const PROTOCOL_VERSION = 1;
export const HEADER_VERSION = 'shoal-protocol';
/** Publish time in epoch milliseconds (the AMQP timestamp only has seconds). */
export const HEADER_SENT_AT = 'shoal-sent-at';
/** When the caller stops waiting, in epoch milliseconds; sent on a republish, whose relative expiration is what is left. */
export const HEADER_DEADLINE = 'shoal-deadline';
/** Set by quorum queues: how many times the message was delivered before. */
export const HEADER_DELIVERY_COUNT = 'x-delivery-count';

// ---- requests ------------------------------------------------------------

export const requestBodySchema = z.object({
  job: z.string().regex(JOB_NAME_PATTERN, { error: 'job must be a name of letters, digits, ".", "_", ":" or "-"' }),
  payload: z.unknown(),
});
export type RequestBody = z.infer<typeof requestBodySchema>;

export interface Request extends RequestBody {
  messageId: string;
  correlationId: string;
  replyTo: string;
  /** Epoch ms when the producer published it, if it said so. */
  sentAt: number | undefined;
  /** Epoch ms after which the caller no longer waits for the reply. */
  deadline: number | undefined;
  version: number;
  /** Deliveries before this one (0 on the first). */
  deliveryCount: number;
  redelivered: boolean;
}

export type DecodedRequest =
  | { ok: true; request: Request }
  | { ok: false; code: string; message: string; replyTo: string | undefined; correlationId: string | undefined; deliveryCount: number };

export function encodeRequestBody(job: string, payload: unknown): Buffer {
  return Buffer.from(JSON.stringify({ job, payload }));
}

/** The body a client sends, refused before it is sent when a worker would refuse it. */
export function encodeBoundedRequest(job: string, payload: unknown, maxBodyBytes: number): Buffer {
  const body = encodeRequestBody(job, payload);
  if (body.length > maxBodyBytes) {
    throw new ValidationError('BODY_TOO_LARGE', `request body is ${body.length} bytes; the limit is ${maxBodyBytes}`);
  }
  return body;
}

/**
 * A request's headers, as few as the protocol allows (amqplib's header
 * encoding was the largest single cost of a publish):
 * - `shoal-protocol` only from version 2 on: a request without it is version 1;
 * - `shoal-sent-at`, the publish time, which with the message's expiration
 *   (its time to live, set at the same moment) gives the caller's deadline;
 * - `shoal-deadline` only where that sum would be wrong: on a request published
 *   again (say after a reconnect), whose expiration is what is left.
 */
export function requestHeaders(sentAt: number, deadline: number | undefined): Record<string, number> {
  const headers: Record<string, number> = { [HEADER_SENT_AT]: sentAt };
  if (deadline !== undefined) headers[HEADER_DEADLINE] = deadline;
  if (PROTOCOL_VERSION !== 1) headers[HEADER_VERSION] = PROTOCOL_VERSION;
  return headers;
}

/** Checks a delivery against the protocol. Never throws: bad input is a result. */
export function decodeRequest(msg: IncomingMessage, maxBodyBytes: number): DecodedRequest {
  const { properties } = msg;
  const replyTo = properties.replyTo || undefined;
  const correlationId = properties.correlationId || undefined;
  const headers = properties.headers ?? NO_HEADERS;
  const deliveryCount = numberOrUndefined(headers[HEADER_DELIVERY_COUNT]) ?? 0;

  if (!replyTo) return refused('MISSING_REPLY_TO', 'request has no replyTo property', replyTo, correlationId, deliveryCount);
  if (!correlationId) return refused('MISSING_CORRELATION_ID', 'request has no correlationId property', replyTo, correlationId, deliveryCount);
  if (msg.content.length > maxBodyBytes) {
    return refused('BODY_TOO_LARGE', `request body is ${msg.content.length} bytes; the limit is ${maxBodyBytes}`, replyTo, correlationId, deliveryCount);
  }
  const rawVersion = headers[HEADER_VERSION] ?? PROTOCOL_VERSION;
  const version = rawVersion === PROTOCOL_VERSION ? PROTOCOL_VERSION : Number(rawVersion);
  if (!Number.isInteger(version) || version < 1) return refused('BAD_VERSION', `bad protocol version ${String(rawVersion)}`, replyTo, correlationId, deliveryCount);
  if (version > PROTOCOL_VERSION) {
    return refused('UNSUPPORTED_VERSION', `protocol version ${version} is newer than this worker's ${PROTOCOL_VERSION}`, replyTo, correlationId, deliveryCount);
  }

  let json: unknown;
  try {
    json = JSON.parse(msg.content.toString('utf8'));
  } catch (err) {
    return refused('MALFORMED_JSON', `request body is not JSON: ${(err as Error).message}`, replyTo, correlationId, deliveryCount);
  }
  // The hand-written check takes the valid bodies; zod words what is wrong with the others.
  let body = fastRequestBody(json);
  if (!body) {
    const parsed = requestBodySchema.safeParse(json);
    if (!parsed.success) {
      return refused('BAD_REQUEST', `request body does not match the schema: ${z.prettifyError(parsed.error).replace(/\n/g, '; ')}`, replyTo, correlationId, deliveryCount);
    }
    body = parsed.data;
  }

  const sentAt = numberOrUndefined(headers[HEADER_SENT_AT]);
  const deadline = numberOrUndefined(headers[HEADER_DEADLINE]) ?? deadlineFromExpiration(sentAt, properties.expiration);
  return {
    ok: true,
    request: {
      job: body.job,
      payload: body.payload,
      messageId: properties.messageId || correlationId,
      correlationId,
      replyTo,
      sentAt,
      deadline,
      version,
      deliveryCount,
      redelivered: msg.fields.redelivered,
    },
  };
}

const NO_HEADERS: Record<string, unknown> = Object.freeze({});

function refused(code: string, message: string, replyTo: string | undefined, correlationId: string | undefined, deliveryCount: number): DecodedRequest {
  return { ok: false, code, message, replyTo, correlationId, deliveryCount };
}

/** For requests without a deadline header: publish time plus the expiration, if both are known. */
function deadlineFromExpiration(sentAt: number | undefined, expiration: unknown): number | undefined {
  const ttl = numberOrUndefined(expiration);
  return sentAt !== undefined && ttl !== undefined ? sentAt + ttl : undefined;
}

function numberOrUndefined(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (value === undefined || value === null || value === '') return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

// ---- replies -------------------------------------------------------------

const timingsSchema = z.object({
  /** From publish to delivery at the worker (needs the producer's sent-at header). */
  queuedMs: z.number().nullable(),
  /** Time spent running the job. */
  serviceMs: z.number(),
});

const replyBase = {
  workerId: z.string(),
  timings: timingsSchema,
  /** Set when the request had been delivered before (a worker died or dropped its connection). */
  redelivered: z.boolean().optional(),
};

export const replySchema = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), result: z.unknown(), ...replyBase }),
  z.object({ ok: z.literal(false), error: z.object({ code: z.string(), message: z.string() }), ...replyBase }),
]);
export type Reply = z.infer<typeof replySchema>;
export type Timings = z.infer<typeof timingsSchema>;

export function encodeReply(reply: Reply): Buffer {
  return Buffer.from(JSON.stringify(reply));
}

export function decodeReply(content: Buffer): Reply {
  let json: unknown;
  try {
    json = JSON.parse(content.toString('utf8'));
  } catch (err) {
    throw new ValidationError('MALFORMED_REPLY', `reply is not JSON: ${(err as Error).message}`);
  }
  return fastReply(json) ?? checked(json, replySchema, 'MALFORMED_REPLY', 'reply');
}

/** A parsed JSON value as a Reply if it is one (the hand-written check; see protocol-checks.ts), else undefined. */
export function replyOf(json: unknown): Reply | undefined {
  const fast = fastReply(json);
  if (fast) return fast;
  const parsed = replySchema.safeParse(json);
  return parsed.success ? parsed.data : undefined;
}

/** Parses and validates a JSON message, or throws a ValidationError with `code` saying what is wrong. */
function decodeJson<T extends z.ZodType>(content: Buffer, schema: T, code: string, what: string): z.output<T> {
  let json: unknown;
  try {
    json = JSON.parse(content.toString('utf8'));
  } catch (err) {
    throw new ValidationError(code, `${what} is not JSON: ${(err as Error).message}`);
  }
  return checked(json, schema, code, what);
}

function checked<T extends z.ZodType>(json: unknown, schema: T, code: string, what: string): z.output<T> {
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new ValidationError(code, `${what} does not match the schema: ${z.prettifyError(parsed.error).replace(/\n/g, '; ')}`);
  return parsed.data;
}

// ---- control -------------------------------------------------------------

export const controlSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('quit') }),
  /** Stop taking work, finish what you hold, exit. */
  z.object({ type: z.literal('drain'), workerId: z.string().min(1) }),
  /** A warm spare that started taking work becomes a regular worker: raise its consumer priority. */
  z.object({ type: z.literal('promote'), workerId: z.string().min(1) }),
  /** The caller aborted this request: whichever worker runs it stops it, and one that gets it later skips it. */
  z.object({ type: z.literal('cancel'), messageId: z.string().min(1) }),
]);
export type ControlMessage = z.infer<typeof controlSchema>;

export function encodeControl(message: ControlMessage): Buffer {
  return Buffer.from(JSON.stringify(message));
}

export function decodeControl(content: Buffer): ControlMessage {
  return decodeJson(content, controlSchema, 'BAD_CONTROL', 'control message');
}
