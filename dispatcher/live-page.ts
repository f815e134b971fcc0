import { escapeHtml, uplotAssets } from '../infra/uplot.js';

/** One point of the dispatcher's recent history, for the live page. */
export interface HistoryPoint {
  at: number;
  regular: number;
  spares: number;
  draining: number;
  desired: number;
  backlog: number;
  arrivalRate: number;
  waitP95Ms: number | null;
}

/**
 * The dispatcher's live page: the pool, the queue and the latency over the
 * last minutes, fetched from /status every second. One self-contained page.
 */
export function renderLivePage(namespace: string, assets = uplotAssets()): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>shoal: ${escapeHtml(namespace)}</title>
<link rel="icon" href="data:,">
<style>${assets.css}
body{font:14px system-ui,sans-serif;margin:24px;color:#222}h1{font-size:20px}h2{font-size:16px;margin-top:24px}
ol,pre{font:12px ui-monospace,monospace}</style>
</head><body>
<h1>shoal pool <code>${escapeHtml(namespace)}</code></h1>
<pre id="now">waiting for the first scaling tick…</pre>
<h2>Pool</h2><div id="pool"></div>
<h2>Queue</h2><div id="queue"></div>
<h2>p95 queue wait (ms)</h2><div id="wait"></div>
<h2>Last decisions</h2><ol id="decisions"></ol>
<script>${assets.js}</script>
<script>
const width = Math.min(1000, document.body.clientWidth - 20);
const step = { paths: uPlot.paths.stepped({ align: 1 }) };
const line = (label, stroke, extra = {}) => ({ label, stroke, width: 2, ...extra });
const opts = (series, label) => ({ width, height: 200, axes: [{}, { label }], series: [{}, ...series] });
const charts = {
  pool: new uPlot(opts([line('regular', '#27c', step), line('spares', '#999', step), line('draining', '#e90', step), line('desired', '#2a7', { dash: [4, 4], ...step })], 'workers'), [[], [], [], [], []], document.getElementById('pool')),
  queue: new uPlot(opts([line('backlog', '#d33'), line('arrivals/s', '#27c')], ''), [[], [], []], document.getElementById('queue')),
  wait: new uPlot(opts([line('p95 wait', '#e90')], 'ms'), [[], []], document.getElementById('wait')),
};
async function refresh() {
  try {
    const { status, history } = await (await fetch('status')).json();
    const t = history.map((p) => p.at / 1000);
    charts.pool.setData([t, history.map((p) => p.regular), history.map((p) => p.spares), history.map((p) => p.draining), history.map((p) => p.desired)]);
    charts.queue.setData([t, history.map((p) => p.backlog), history.map((p) => p.arrivalRate)]);
    charts.wait.setData([t, history.map((p) => p.waitP95Ms)]);
    if (status) {
      const o = status.observation;
      document.getElementById('now').textContent =
        'policy ' + status.policy + '  target p95 ' + status.targetWaitP95Ms + ' ms  min ' + status.min + '  max ' + status.max + '  spares ' + status.spares + '\\n' +
        'backlog ' + o.backlog + '  in flight ' + o.inFlight + '  arrival ' + o.arrivalRate.toFixed(1) + '/s  desired ' + status.desired + '\\n' +
        status.members.map((m) => m.workerId + '  ' + (m.role === 'spare' ? 'spare' : m.state) + '  in flight ' + m.inFlight).join('\\n');
      document.getElementById('decisions').innerHTML = '';
      for (const d of status.decisions) {
        const li = document.createElement('li');
        li.textContent = new Date(d.at).toISOString().slice(11, 19) + '  ' + d.reason;
        document.getElementById('decisions').append(li);
      }
    }
  } catch (err) {
    document.getElementById('now').textContent = 'cannot reach the dispatcher: ' + err;
  }
}
refresh();
setInterval(refresh, 1000);
</script>
</body></html>
`;
}
