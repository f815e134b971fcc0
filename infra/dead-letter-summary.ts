/**
 * What `shoal-dead` shows of one dead letter, on either transport, and how it
 * prints it. Pure; the transports' readers fill it in (RabbitMQ:
 * infra/amqp/dead-letter-message.ts; BullMQ: infra/transport/bullmq/dead-letters.ts).
 */
export interface DeadLetterSummary {
  messageId: string | undefined;
  correlationId: string | undefined;
  job: string | undefined;
  reason: string | undefined;
  /** The queue it died in first. */
  queue: string | undefined;
  /** Epoch ms of that death (the broker records whole seconds). */
  diedAt: number | undefined;
  bytes: number;
  preview: string;
  /** The caller's timeout, which the broker removed when it dead-lettered the message. */
  originalExpiration: string | undefined;
}

export const PREVIEW_CHARS = 80;

/** One line per dead letter, '-' for what it does not say. */
export function formatDeadLetter(s: DeadLetterSummary): string {
  const or = (v: string | undefined) => (v === undefined || v === '' ? '-' : v);
  return [
    or(s.messageId),
    `corr ${or(s.correlationId)}`,
    `job ${or(s.job)}`,
    `${or(s.reason)} in ${or(s.queue)}`,
    `at ${s.diedAt === undefined ? '-' : new Date(s.diedAt).toISOString()}`,
    `${s.bytes} B`,
    s.preview,
  ].join('  ');
}

/** The start of a body as one printable line: control bytes escaped, quoted, "…" when cut. */
export function previewBody(content: Buffer, chars: number): string {
  // Enough bytes for `chars` characters of up to 4 bytes each; the rest is never decoded.
  const text = content.subarray(0, chars * 4).toString('utf8');
  const cut = [...text].slice(0, chars).join('');
  const escaped = cut.replace(/[\u0000-\u001f\u007f-\u009f\ufffd"\\]/g, escapeChar);
  const more = cut.length < text.length || content.length > chars * 4 ? '…' : '';
  return `"${escaped}"${more}`;
}

function escapeChar(c: string): string {
  if (c === '"' || c === '\\') return `\\${c}`;
  const code = c.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16)}`;
}
