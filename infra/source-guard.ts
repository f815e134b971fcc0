import { errorMessage } from './errors.js';
import type { Logger } from './log.js';

/**
 * Runs one metrics source; on failure warns once (until it recovers) and
 * gives undefined, so the dispatcher carries on with the other sources. The
 * dispatcher keeps one for the worker reports, and each transport link one for
 * its own sources (RabbitMQ: the passive declare and the management API;
 * BullMQ: the count of workers).
 */
export class SourceGuard {
  private readonly degraded = new Set<string>();

  constructor(private readonly logger: Logger) {}

  async run<T>(what: string, read: () => Promise<T>): Promise<T | undefined> {
    try {
      const value = await read();
      if (this.degraded.delete(what)) this.logger.info({ source: what }, 'metrics source is back');
      return value;
    } catch (err) {
      if (!this.degraded.has(what)) this.logger.warn({ source: what, err: errorMessage(err) }, 'metrics source unavailable; scaling on the others');
      this.degraded.add(what);
      return undefined;
    }
  }

  /** Warns once about a condition, until `clear` is called for it. */
  warnOnce(what: string, message: string, fields: Record<string, unknown> = {}): void {
    if (this.degraded.has(what)) return;
    this.degraded.add(what);
    this.logger.warn(fields, message);
  }
}
