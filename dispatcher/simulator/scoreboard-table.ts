import { comparisonConfig, simulationDefaults } from './defaults.js';
import { MAX_OVER_TARGET_PCT, type ScoreboardOptions } from './scoreboard.js';
import type { CellScore, PolicyScore, Spread } from './scoreboard-summary.js';
import { columns } from './table.js';

/** What the scoreboard was run on, in one line, so that a pasted table says how it was made. */
export function formatScoreboardSettings(options: ScoreboardOptions): string {
  const config = { ...comparisonConfig, ...options.base.config };
  const service = options.base.service?.meanMs ?? simulationDefaults.service.meanMs;
  const start = options.base.startDelay ?? simulationDefaults.startDelay;
  const seeds = (list: number[]) => (list.length === 0 ? 'none' : `${list.length} (gen-${list[0]}..gen-${list[list.length - 1]})`);
  const large = options.scales.some((s) => s >= 100) ? `, at x100 and above ${seeds(options.largeScaleSeeds)}` : '';
  const duration = options.durationMs === undefined ? '180-240 s each' : `${options.durationMs / 1000} s each`;
  return (
    `scoreboard: seeds ${seeds(options.seeds)}${large}, traces ${duration}; ${service} ms jobs (lognormal, cv per row), ` +
    `${config.concurrency} per worker, workers ${config.min}..(${config.max} x scale) + ${options.base.spares ?? simulationDefaults.spares} spare(s), ` +
    `start delay ${start.meanMs} ± ${start.jitterMs} ms; target p95 wait ${config.targetWaitP95Ms} ms` +
    `${options.boundQuantile === undefined ? '' : ` (bound and oracle sized to p${Math.round(options.boundQuantile * 100)})`}; ` +
    `a seed is met when <= ${MAX_OVER_TARGET_PCT} % of requests wait longer than the target`
  );
}

/** One table: per (scale, cv), a row per policy, the reactive and the feasible oracle and the lower bound; median and worst over seeds. */
export function formatScoreboard(cells: readonly CellScore[]): string {
  const header = ['scale', 'cv', 'policy', 'over target % med', 'worst', 'worker-s med', 'worst', 'x bound med', 'worst', 'seeds met', ''];
  const rows: string[][] = [];
  for (const cell of cells) {
    cell.policies.forEach((p, i) => rows.push(policyRow(cell, p, i === 0)));
    const b = cell.lowerBound.workerSeconds;
    rows.push(['', '', 'lower bound', '', '', fmt(b.median, 0), fmt(b.worst, 0), '1.00', '1.00', '', 'instant starts, per-second Erlang C']);
  }
  return columns([header, ...rows], [0, 2, header.length - 1]);
}

function policyRow(cell: CellScore, p: PolicyScore, first: boolean): string[] {
  return [
    first ? `x${cell.scale}` : '',
    first ? String(cell.cv) : '',
    p.policy === 'oracle' ? 'oracle (feasible)' : p.policy,
    ...pair(p.overTargetPct, 2),
    ...pair(p.workerSeconds, 0),
    ...pair(p.timesLowerBound, 2),
    `${p.seedsMet}/${p.seeds}`,
    note(p),
  ];
}

function note(p: PolicyScore): string {
  const q = p.queueLength;
  if (!q) return '';
  return q.met ? `targetQueueLength ${q.chosen} (largest met on every seed)` : `no targetQueueLength met every seed; used ${q.chosen}`;
}

function pair(s: Spread, digits: number): [string, string] {
  return [fmt(s.median, digits), fmt(s.worst, digits)];
}

function fmt(n: number, digits: number): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '-';
}
