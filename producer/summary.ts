import * as hdr from 'hdr-histogram-js';

/** What one request came to, as the load runner saw it. */
export interface CallOutcome {
  index: number;
  /** Epoch ms when the call was made. */
  sentAt: number;
  latencyMs: number;
  status: 'ok' | 'error' | 'timeout';
  /** Error code for failures (a job's code, TIMEOUT, PUBLISH_NACKED, ...). */
  code?: string;
  workerId?: string;
}

export interface LoadSummary {
  sent: number;
  ok: number;
  errors: number;
  timedOut: number;
  durationMs: number;
  throughputPerSec: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  errorsByCode: Record<string, number>;
  repliesByWorker: Record<string, number>;
}

/**
 * Accumulates outcomes into an HDR histogram (microsecond resolution, three
 * significant digits) and counters. Pure: the caller passes the elapsed time.
 */
export class SummaryBuilder {
  private readonly histogram = hdr.build({ useWebAssembly: false, lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });
  private readonly counts = { sent: 0, ok: 0, errors: 0, timedOut: 0 };
  private readonly errorsByCode: Record<string, number> = {};
  private readonly repliesByWorker: Record<string, number> = {};

  add(outcome: CallOutcome): void {
    this.counts.sent++;
    this.histogram.recordValue(Math.max(1, Math.round(outcome.latencyMs * 1000)));
    if (outcome.workerId) this.repliesByWorker[outcome.workerId] = (this.repliesByWorker[outcome.workerId] ?? 0) + 1;
    if (outcome.status === 'ok') {
      this.counts.ok++;
      return;
    }
    if (outcome.status === 'timeout') this.counts.timedOut++;
    else this.counts.errors++;
    const code = outcome.code ?? 'UNKNOWN';
    this.errorsByCode[code] = (this.errorsByCode[code] ?? 0) + 1;
  }

  build(durationMs: number): LoadSummary {
    const ms = (us: number) => Math.round(us) / 1000;
    const h = this.histogram;
    return {
      ...this.counts,
      durationMs: Math.round(durationMs),
      throughputPerSec: durationMs > 0 ? Math.round((this.counts.sent / durationMs) * 1000 * 10) / 10 : 0,
      latencyMs: {
        p50: ms(h.getValueAtPercentile(50)),
        p90: ms(h.getValueAtPercentile(90)),
        p99: ms(h.getValueAtPercentile(99)),
        max: ms(h.maxValue),
        mean: ms(h.mean),
      },
      errorsByCode: { ...this.errorsByCode },
      repliesByWorker: { ...this.repliesByWorker },
    };
  }
}

export function formatSummary(s: LoadSummary): string {
  const lines = [
    `sent ${s.sent}  ok ${s.ok}  errors ${s.errors}  timed out ${s.timedOut}`,
    `duration ${(s.durationMs / 1000).toFixed(2)} s  throughput ${s.throughputPerSec} req/s`,
    `latency ms  p50 ${s.latencyMs.p50}  p90 ${s.latencyMs.p90}  p99 ${s.latencyMs.p99}  max ${s.latencyMs.max}`,
  ];
  const workers = Object.entries(s.repliesByWorker).sort(([a], [b]) => a.localeCompare(b));
  if (workers.length > 0) lines.push(`replies by worker  ${workers.map(([id, n]) => `${id}=${n}`).join('  ')}`);
  const codes = Object.entries(s.errorsByCode);
  if (codes.length > 0) lines.push(`errors by code  ${codes.map(([code, n]) => `${code}=${n}`).join('  ')}`);
  return lines.join('\n');
}
