import { describe, expect, it } from 'vitest';
import type { LoggedEvent } from '../../infra/pool-events.js';
import { replayPool } from '../../producer/pool-history.js';
import { renderReport } from '../../producer/report.js';
import { SummaryBuilder } from '../../producer/summary.js';
import { RunTimeline } from '../../producer/timeline.js';

describe('run report', () => {
  it('buckets outcomes by the second they were sent', () => {
    const timeline = new RunTimeline(10_000);
    timeline.add({ index: 0, sentAt: 10_100, latencyMs: 5, status: 'ok' });
    timeline.add({ index: 1, sentAt: 10_900, latencyMs: 15, status: 'ok' });
    timeline.add({ index: 2, sentAt: 12_500, latencyMs: 100, status: 'timeout', code: 'TIMEOUT' });
    const rows = timeline.rows();
    expect(rows.map((r) => [r.t, r.ok, r.failed])).toEqual([[0, 2, 0], [1, 0, 0], [2, 0, 1]]);
    expect(rows[0]!.p99Ms).toBeCloseTo(15, 0);
    expect(rows[1]!.p50Ms).toBeNull();
  });

  it("replays the dispatcher's event log into the pool's size per second", () => {
    const at = (s: number) => 1_000_000 + s * 1000;
    const events: LoggedEvent[] = [
      { at: at(-5), type: 'started', workerId: 'w1', role: 'worker' },
      { at: at(-5), type: 'started', workerId: 's1', role: 'spare' },
      { at: at(1), type: 'decision', from: 1, to: 2, reason: '1 -> 2' },
      { at: at(1), type: 'promoted', workerId: 's1', role: 'worker', saturated: false },
      { at: at(1), type: 'started', workerId: 's2', role: 'spare' },
      { at: at(3), type: 'draining', workerId: 'w1', role: 'worker' },
      { at: at(4), type: 'removed', workerId: 'w1', role: 'worker' },
    ];
    expect(replayPool(events, at(0), 4)).toEqual([
      { t: 0, regular: 1, spares: 1, draining: 0 },
      { t: 1, regular: 2, spares: 1, draining: 0 },
      { t: 2, regular: 2, spares: 1, draining: 0 },
      { t: 3, regular: 1, spares: 1, draining: 1 },
      { t: 4, regular: 1, spares: 1, draining: 0 },
    ]);
  });

  it('renders one self-contained page, with the data safe inside its script', () => {
    const summary = new SummaryBuilder().build(1000);
    const html = renderReport(
      { title: 'run </script><b>', startedAt: 0, summary, seconds: [], pool: [], decisions: [{ t: 1, reason: '</script>' }] },
      { js: '/* uplot */', css: '/* css */' },
    );
    expect(html).toContain('/* uplot */');
    expect(html).toContain('run &lt;/script&gt;&lt;b&gt;');
    expect(html.match(/<\/script>/g)).toHaveLength(2); // only the two real ones
    expect(html).toContain('No dispatcher event log was readable');
  });
});
