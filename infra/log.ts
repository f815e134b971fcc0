import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

/**
 * Structured logs, scoped with bindings such as {component, workerId}.
 * Readable on a TTY, one JSON object per line otherwise. Logs go to stderr so
 * that stdout stays free for a command's own output (summaries, --json).
 */
export function createLogger(bindings: Record<string, unknown>, level = process.env.SHOAL_LOG_LEVEL ?? 'info'): Logger {
  const stream = process.stderr.isTTY
    ? pretty({ destination: 2, sync: true, ignore: 'pid,hostname', translateTime: 'HH:MM:ss.l' })
    : pino.destination({ fd: 2, sync: false });
  return pino({ level, base: bindings }, stream);
}
