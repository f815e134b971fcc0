import { writeFileSync } from 'node:fs';
import { escapeHtml, scriptJson, uplotAssets } from '../infra/uplot.js';
import type { PoolRow } from './pool-history.js';
import type { LoadSummary } from './summary.js';
import type { SecondRow } from './timeline.js';

export interface ReportData {
  title: string;
  startedAt: number;
  summary: LoadSummary;
  seconds: SecondRow[];
  /** Empty when the dispatcher's event log could not be read. */
  pool: PoolRow[];
  decisions: { t: number; reason: string }[];
}

/** A self-contained HTML page: latency percentiles, throughput and the pool's size over time. */
export function renderReport(data: ReportData, assets = uplotAssets()): string {
  const s = data.summary;
  const rows = [
    ['sent', s.sent], ['ok', s.ok], ['errors', s.errors], ['timed out', s.timedOut],
    ['throughput', `${s.throughputPerSec} req/s`], ['p50', `${s.latencyMs.p50} ms`], ['p90', `${s.latencyMs.p90} ms`],
    ['p99', `${s.latencyMs.p99} ms`], ['max', `${s.latencyMs.max} ms`],
  ];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(data.title)}</title>
<style>${assets.css}
body{font:14px system-ui,sans-serif;margin:24px;color:#222}h1{font-size:20px}h2{font-size:16px;margin-top:28px}
table{border-collapse:collapse}td{padding:2px 12px 2px 0}.chart{margin:8px 0}ol{font:12px ui-monospace,monospace}</style>
</head><body>
<h1>${escapeHtml(data.title)}</h1>
<p>Started ${new Date(data.startedAt).toISOString()}.</p>
<table>${rows.map(([k, v]) => `<tr><td>${k}</td><td><b>${escapeHtml(String(v))}</b></td></tr>`).join('')}</table>
<h2>Latency by second sent (ms)</h2><div id="latency" class="chart"></div>
<h2>Requests answered, by second sent</h2><div id="throughput" class="chart"></div>
<h2>Pool size</h2><div id="pool" class="chart">${data.pool.length ? '' : '<p>No dispatcher event log was readable (Redis off or no dispatcher).</p>'}</div>
<h2>Scaling decisions</h2><ol>${data.decisions.map((d) => `<li>t=${d.t}s ${escapeHtml(d.reason)}</li>`).join('') || '<li>none</li>'}</ol>
<script>${assets.js}</script>
<script>
const data = ${scriptJson(data)};
const width = Math.min(1000, document.body.clientWidth - 20);
const x = (rows) => rows.map((r) => r.t);
const series = (label, stroke, extra = {}) => ({ label, stroke, width: 2, ...extra });
new uPlot({ width, height: 260, scales: { x: { time: false } }, axes: [{ label: 's' }, { label: 'ms' }],
  series: [{ label: 't' }, series('p50', '#2a7'), series('p90', '#e90'), series('p99', '#d33')] },
  [x(data.seconds), data.seconds.map((r) => r.p50Ms), data.seconds.map((r) => r.p90Ms), data.seconds.map((r) => r.p99Ms)],
  document.getElementById('latency'));
new uPlot({ width, height: 220, scales: { x: { time: false } }, axes: [{ label: 's' }, { label: 'req/s' }],
  series: [{ label: 't' }, series('ok', '#27c'), series('failed', '#d33')] },
  [x(data.seconds), data.seconds.map((r) => r.ok), data.seconds.map((r) => r.failed)],
  document.getElementById('throughput'));
if (data.pool.length) new uPlot({ width, height: 220, scales: { x: { time: false } }, axes: [{ label: 's' }, { label: 'workers' }],
  series: [{ label: 't' }, series('regular', '#27c', { paths: uPlot.paths.stepped({ align: 1 }) }),
    series('spares', '#999', { paths: uPlot.paths.stepped({ align: 1 }) }), series('draining', '#e90', { paths: uPlot.paths.stepped({ align: 1 }) })] },
  [x(data.pool), data.pool.map((r) => r.regular), data.pool.map((r) => r.spares), data.pool.map((r) => r.draining)],
  document.getElementById('pool'));
</script>
</body></html>
`;
}

export function writeReport(file: string, data: ReportData): void {
  writeFileSync(file, renderReport(data));
}
