/**
 * Every error code shoal produces today, by where a caller meets it. A code
 * travels in error replies (`{ok: false, error: {code, message}}`), in the
 * `code` of the errors the client throws, and in logs. Job handlers may add
 * their own with `new PermanentJobError(message, { code })`.
 */
export const ERROR_CODES = {
  // From a worker, in an error reply; the request is dead-lettered.
  MALFORMED_JSON: 'the request body is not JSON',
  BAD_REQUEST: 'the request body does not match the schema {job, payload}',
  BODY_TOO_LARGE: 'the request body is larger than the limit (SHOAL_MAX_BODY_BYTES); the client refuses it before sending too',
  BAD_VERSION: 'the shoal-protocol header is not a positive integer',
  UNSUPPORTED_VERSION: 'the request is of a newer protocol version than any worker that took it (after the delivery limit)',
  UNKNOWN_JOB: 'no worker handler has this job name',
  BAD_PAYLOAD: "a built-in job's payload does not match its schema (or a handler chose this code)",
  JOB_FAILED: 'the handler threw',
  JOB_TRANSIENT: 'the handler threw a TransientJobError on every delivery the queue allows',
  REPLY_FAILED: "the job's result cannot be serialized as JSON",
  JOB_STALLED: 'BullMQ: the job stalled (its worker died) more often than allowed',
  // From the dispatcher, in an error reply.
  DELIVERY_LIMIT: 'RabbitMQ: every delivery up to the limit ended with no answer (e.g. the job kills its worker)',
  // From the client itself, as a rejected call.
  TIMEOUT: 'no reply within the timeout',
  CANCELLED: "the caller's AbortSignal fired before the reply came",
  PUBLISH_NACKED: 'the broker refused the request three times',
  PUBLISH_FAILED: 'Redis did not take the request (BullMQ)',
  UNROUTABLE: "the pool's request queue does not exist",
  MALFORMED_REPLY: 'a reply that does not match the schema',
  CLIENT_CLOSED: 'call() after close()',
  // From connect() and runWorker(), when they cannot start.
  BAD_CONFIG: 'options or settings that cannot be used; the message names the one to fix',
  BROKER_UNREACHABLE: 'RabbitMQ does not answer at the URL',
  REDIS_UNREACHABLE: 'Redis does not answer at the URL',
  TOPOLOGY_MISMATCH: "the pool's queue exists with other settings (e.g. another delivery limit)",
  BAD_HANDLERS: 'a handler module that cannot be loaded, or a handler that is not a function',
} as const;

/** A code shoal produces; a handler's own codes are plain strings. */
export type ErrorCode = keyof typeof ERROR_CODES;
