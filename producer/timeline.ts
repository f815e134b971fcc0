import * as hdr from 'hdr-histogram-js';
import type { CallOutcome } from './summary.js';

export interface SecondRow {
  /** Seconds since the run started. */
  t: number;
  ok: number;
  failed: number;
  p50Ms: number | null;
  p90Ms: number | null;
  p99Ms: number | null;
}

/**
 * Per-second latency percentiles and outcomes of a run, keyed by when each
 * request was sent. Pure: outcomes and the start time come in from outside.
 */
export class RunTimeline {
  private readonly seconds = new Map<number, { ok: number; failed: number; latency: hdr.Histogram }>();

  constructor(private readonly startedAt: number) {}

  add(outcome: CallOutcome): void {
    const t = Math.max(0, Math.floor((outcome.sentAt - this.startedAt) / 1000));
    let second = this.seconds.get(t);
    if (!second) {
      second = { ok: 0, failed: 0, latency: hdr.build({ useWebAssembly: false, lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 2 }) };
      this.seconds.set(t, second);
    }
    if (outcome.status === 'ok') second.ok++;
    else second.failed++;
    second.latency.recordValue(Math.max(1, Math.round(outcome.latencyMs * 1000)));
  }

  rows(): SecondRow[] {
    const last = Math.max(-1, ...this.seconds.keys());
    const rows: SecondRow[] = [];
    for (let t = 0; t <= last; t++) {
      const s = this.seconds.get(t);
      const at = (q: number) => (s ? Math.round(s.latency.getValueAtPercentile(q)) / 1000 : null);
      rows.push({ t, ok: s?.ok ?? 0, failed: s?.failed ?? 0, p50Ms: at(50), p90Ms: at(90), p99Ms: at(99) });
    }
    return rows;
  }
}
