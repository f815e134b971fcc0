import { z } from 'zod';
import { ValidationError } from './errors.js';
import { WORKER_ROLES } from './worker-role.js';

/**
 * The message protocol, imported by both sides: requests, replies, control
 * messages and the names of the broker objects of one pool.
 *
 * Versioning: every message carries `shoal-protocol` in its headers. A worker
 * serves every version up to its own. A request from a newer producer is
 * requeued (so that an upgraded worker can take it during a rollout) until the
 * delivery limit, then answered with UNSUPPORTED_VERSION.
 */
export const PROTOCOL_VERSION = 1;
export const HEADER_VERSION = 'shoal-protocol';
/** Publish time in epoch milliseconds (the AMQP timestamp only has seconds). */
export const HEADER_SENT_AT = 'shoal-sent-at';
/** When the caller stops waiting, in epoch milliseconds; survives a republish, unlike the relative expiration. */
export const HEADER_DEADLINE = 'shoal-deadline';
/** Set by quorum queues: how many times the message was delivered before. */
export const HEADER_DELIVERY_COUNT = 'x-delivery-count';

export const REPLY_TO_DIRECT = 'amq.rabbitmq.reply-to';

export interface Topology {
  /** Durable quorum queue that every worker consumes from. */
  requestQueue: string;
  /** Fanout exchange the request queue dead-letters to. */
  deadExchange: string;
  /** Where poison, rejected and expired requests end up. */
  deadQueue: string;
  /** Topic exchange for `quit` (everyone) and `drain.<workerId>` (one worker). */
  controlExchange: string;
}

export function topologyFor(namespace: string): Topology {
  return {
    requestQueue: `${namespace}.requests`,
    deadExchange: `${namespace}.dlx`,
    deadQueue: `${namespace}.dead`,
    controlExchange: `${namespace}.control`,
  };
}

// ---- requests ------------------------------------------------------------

export const JOB_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

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

/** The subset of an amqplib message that decoding needs. */
export interface IncomingMessage {
  content: Buffer;
  fields: { redelivered: boolean };
  /**
   * The delivery count at which the carrier itself gives up on the message,
   * when it says so per message: a BullMQ job's own `attempts`, which the
   * adder chose. Absent on RabbitMQ, where the queue's limit is the worker's.
   */
  deliveryLimit?: number | undefined;
  properties: {
    messageId?: string | undefined;
    correlationId?: string | undefined;
    replyTo?: string | undefined;
    expiration?: string | number | undefined;
    headers?: Record<string, unknown> | undefined;
  };
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

/** Checks a delivery against the protocol. Never throws: bad input is a result. */
export function decodeRequest(msg: IncomingMessage, maxBodyBytes: number): DecodedRequest {
  const { properties } = msg;
  const replyTo = properties.replyTo || undefined;
  const correlationId = properties.correlationId || undefined;
  const headers = properties.headers ?? {};
  const deliveryCount = numberOrUndefined(headers[HEADER_DELIVERY_COUNT]) ?? 0;
  const fail = (code: string, message: string): DecodedRequest => ({ ok: false, code, message, replyTo, correlationId, deliveryCount });

  if (!replyTo) return fail('MISSING_REPLY_TO', 'request has no replyTo property');
  if (!correlationId) return fail('MISSING_CORRELATION_ID', 'request has no correlationId property');
  if (msg.content.length > maxBodyBytes) {
    return fail('BODY_TOO_LARGE', `request body is ${msg.content.length} bytes; the limit is ${maxBodyBytes}`);
  }
  const version = Number(headers[HEADER_VERSION] ?? PROTOCOL_VERSION);
  if (!Number.isInteger(version) || version < 1) return fail('BAD_VERSION', `bad protocol version ${String(headers[HEADER_VERSION])}`);
  if (version > PROTOCOL_VERSION) {
    return fail('UNSUPPORTED_VERSION', `protocol version ${version} is newer than this worker's ${PROTOCOL_VERSION}`);
  }

  let json: unknown;
  try {
    json = JSON.parse(msg.content.toString('utf8'));
  } catch (err) {
    return fail('MALFORMED_JSON', `request body is not JSON: ${(err as Error).message}`);
  }
  const body = requestBodySchema.safeParse(json);
  if (!body.success) {
    return fail('BAD_REQUEST', `request body does not match the schema: ${z.prettifyError(body.error).replace(/\n/g, '; ')}`);
  }

  const sentAt = numberOrUndefined(headers[HEADER_SENT_AT]);
  const ttl = numberOrUndefined(properties.expiration);
  const deadline = numberOrUndefined(headers[HEADER_DEADLINE]) ?? (sentAt !== undefined && ttl !== undefined ? sentAt + ttl : undefined);
  return {
    ok: true,
    request: {
      job: body.data.job,
      payload: body.data.payload,
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

function numberOrUndefined(value: unknown): number | undefined {
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
  return decodeJson(content, replySchema, 'MALFORMED_REPLY', 'reply');
}

/** Parses and validates a JSON message, or throws a ValidationError with `code` saying what is wrong. */
function decodeJson<T extends z.ZodType>(content: Buffer, schema: T, code: string, what: string): z.output<T> {
  let json: unknown;
  try {
    json = JSON.parse(content.toString('utf8'));
  } catch (err) {
    throw new ValidationError(code, `${what} is not JSON: ${(err as Error).message}`);
  }
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

export const QUIT_ROUTING_KEY = 'quit';
/** Every worker binds it: a cancel goes to all of them, since any one may hold the request. */
export const CANCEL_ROUTING_KEY = 'cancel';
/** Each worker binds `*.<workerId>`: messages addressed to it alone. */
export function workerRoutingPattern(workerId: string): string {
  return `*.${workerId}`;
}

export function controlRoutingKey(message: ControlMessage): string {
  if (message.type === 'quit') return QUIT_ROUTING_KEY;
  if (message.type === 'cancel') return CANCEL_ROUTING_KEY;
  return `${message.type}.${message.workerId}`;
}

// ---- worker reports ------------------------------------------------------

/**
 * What each worker writes to Redis every interval (key `<ns>:workers:<id>`,
 * expiring after three missed intervals). Counters are cumulative since the
 * worker started; the dispatcher takes differences.
 */
export const workerReportSchema = z.object({
  workerId: z.string(),
  role: z.enum(WORKER_ROLES),
  state: z.enum(['active', 'draining']),
  inFlight: z.number(),
  processed: z.number(),
  failed: z.number(),
  redelivered: z.number(),
  serviceMsTotal: z.number(),
  /** Cumulative queue-wait counts per bucket of infra/wait-histogram.ts. */
  waitBuckets: z.array(z.number()),
  startedAt: z.number(),
  reportedAt: z.number(),
});
export type WorkerReport = z.infer<typeof workerReportSchema>;

export function encodeControl(message: ControlMessage): Buffer {
  return Buffer.from(JSON.stringify(message));
}

export function decodeControl(content: Buffer): ControlMessage {
  return decodeJson(content, controlSchema, 'BAD_CONTROL', 'control message');
}
