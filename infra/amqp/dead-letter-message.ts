import type { Message, Options } from 'amqplib';
import { PREVIEW_CHARS, previewBody, type DeadLetterSummary } from '../dead-letter-summary.js';
import { HEADER_DEADLINE, HEADER_SENT_AT } from '../protocol.js';

/**
 * Pure helpers for `shoal-dead`: what a dead letter says about itself, and the
 * copy of it that goes back to the request queue. No I/O here.
 *
 * RabbitMQ records each death in `x-death` (newest first, one entry per queue
 * and reason, with `time` and, when the message had one, `original-expiration`)
 * and the first one in `x-first-death-reason` / `-queue` / `-exchange`. The
 * reason is `rejected` (a worker dead-lettered it), `expired` (its caller's
 * timeout ran out while it waited) or `delivery_limit` (a quorum queue gave up).
 */

interface XDeathEntry {
  reason?: unknown;
  queue?: unknown;
  time?: unknown;
  'original-expiration'?: unknown;
}

/** Headers that describe the message's past life in the broker; a requeued copy starts fresh. */
const BROKER_HISTORY_HEADER = /^x-(death|first-death-.+|last-death-.+|delivery-count)$/;

export function describeDeadLetter(msg: Message): DeadLetterSummary {
  const headers = msg.properties.headers ?? {};
  const deaths = xDeath(headers);
  const reason = stringOrUndefined(headers['x-first-death-reason']) ?? stringOrUndefined(deaths[0]?.reason);
  const queue = stringOrUndefined(headers['x-first-death-queue']) ?? stringOrUndefined(deaths[0]?.queue);
  const first = deaths.find((d) => d.reason === reason && d.queue === queue) ?? deaths[0];
  return {
    messageId: stringOrUndefined(msg.properties.messageId),
    correlationId: stringOrUndefined(msg.properties.correlationId),
    job: jobOf(msg),
    reason,
    queue,
    diedAt: timestampMs(first?.time),
    bytes: msg.content.length,
    preview: previewBody(msg.content, PREVIEW_CHARS),
    originalExpiration: originalExpiration(msg, deaths),
  };
}

/**
 * The job a worker would run: the body's `job` when the body is a JSON object
 * that names one (that is what the worker reads), else the `type` property
 * the producer sets to the job name.
 */
export function jobOf(msg: Message): string | undefined {
  try {
    const body: unknown = JSON.parse(msg.content.toString('utf8'));
    if (body && typeof body === 'object' && typeof (body as { job?: unknown }).job === 'string') return (body as { job: string }).job;
  } catch {
    // not JSON: fall back to the property
  }
  return stringOrUndefined(msg.properties.type);
}

export interface RequeueCopy {
  options: Options.Publish;
  /** Whether the original carried a caller's timeout (now dropped). */
  hadExpiration: boolean;
}

/**
 * The properties of the copy that goes back to the request queue.
 *
 * - Kept: messageId, correlationId, replyTo, type, contentType/-Encoding,
 *   appId, timestamp, and the application's headers.
 * - Dropped: the broker's history headers (x-death, x-first/last-death-*, and
 *   x-delivery-count, which a worker would read as earlier attempts and so
 *   give the copy fewer retries); `expiration` and `shoal-deadline` (its caller has stopped waiting:
 *   with it the copy would expire again at once, or be refused by the worker
 *   as past its deadline); `userId` (the broker refuses a publish whose userId
 *   is not the publishing connection's user).
 * - Restamped: `shoal-sent-at`, to now. Workers measure queue wait from it and
 *   the autoscaler sizes the pool by that wait; the original time would count
 *   the time spent dead as queue wait.
 */
export function requeueCopy(msg: Message, now: number): RequeueCopy {
  const p = msg.properties;
  const headers: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(p.headers ?? {})) {
    if (!BROKER_HISTORY_HEADER.test(key)) headers[key] = value;
  }
  if (HEADER_SENT_AT in headers) headers[HEADER_SENT_AT] = now;
  delete headers[HEADER_DEADLINE]; // like the expiration: its caller has stopped waiting
  const options: Options.Publish = { mandatory: true, persistent: true, headers };
  const keep = ['messageId', 'correlationId', 'replyTo', 'type', 'contentType', 'contentEncoding', 'appId', 'timestamp'] as const;
  for (const key of keep) {
    if (p[key] !== undefined && p[key] !== null) (options as Record<string, unknown>)[key] = p[key];
  }
  return { options, hadExpiration: originalExpiration(msg, xDeath(p.headers ?? {})) !== undefined };
}

/** RabbitMQ moves `expiration` into x-death's `original-expiration` when it dead-letters. */
function originalExpiration(msg: Message, deaths: XDeathEntry[]): string | undefined {
  const own = msg.properties.expiration as unknown;
  if (own !== undefined && own !== null && own !== '') return String(own);
  const recorded = deaths.find((d) => d['original-expiration'] !== undefined)?.['original-expiration'];
  return recorded === undefined || recorded === null ? undefined : String(recorded);
}

function xDeath(headers: Record<string, unknown>): XDeathEntry[] {
  const value = headers['x-death'];
  return Array.isArray(value) ? value.filter((d): d is XDeathEntry => typeof d === 'object' && d !== null) : [];
}

/** amqplib decodes an AMQP timestamp (seconds) as {'!': 'timestamp', value}. */
function timestampMs(value: unknown): number | undefined {
  const seconds = typeof value === 'object' && value !== null ? (value as { value?: unknown }).value : value;
  return typeof seconds === 'number' && Number.isFinite(seconds) ? seconds * 1000 : undefined;
}

function stringOrUndefined(value: unknown): string | undefined {
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return typeof value === 'string' && value !== '' ? value : undefined;
}
