import { createRequire } from 'node:module';
import { pino, type Logger } from 'pino';
import type { PrettyOptions } from 'pino-pretty';

export type { Logger };

/**
 * Structured logs, scoped with bindings such as {component, workerId}.
 * Readable on a TTY, one JSON object per line otherwise. Logs go to stderr so
 * that stdout stays free for a command's own output (summaries, --json).
 */
/** The one setting that every command and worker reads for its log level. */
export const LOG_LEVEL_ENV = 'SHOAL_LOG_LEVEL';

/** `defaultLevel` applies when SHOAL_LOG_LEVEL is unset: 'warn' for one-shot CLIs whose stdout is the point. */
export function createLogger(bindings: Record<string, unknown>, defaultLevel = 'info'): Logger {
  const level = process.env[LOG_LEVEL_ENV] ?? defaultLevel;
  const stream = process.stderr.isTTY
    ? prettyStream({ destination: 2, sync: true, ignore: 'pid,hostname', translateTime: 'HH:MM:ss.l' })
    : pino.destination({ fd: 2, sync: false });
  return pino({ level, base: bindings }, stream);
}

/** pino-pretty is loaded only for a TTY: a worker or a piped command never needs it (40 ms of a start). */
function prettyStream(options: PrettyOptions): NodeJS.WritableStream {
  const pretty = createRequire(import.meta.url)('pino-pretty') as (options: PrettyOptions) => NodeJS.WritableStream;
  return pretty(options);
}
