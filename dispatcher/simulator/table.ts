import type { CliOptions } from './options.js';
import { comparisonConfig, simulationDefaults } from './defaults.js';
import { timesOracle, type TraceComparison } from './compare.js';

/** Plain-text tables for the terminal: one per trace, one row per policy. */
export function formatComparison(comparison: TraceComparison): string {
  const first = comparison.runs[0]?.result;
  const target = first?.config.targetWaitP95Ms ?? 0;
  const title = `trace ${comparison.trace}: ${fmt(comparison.durationMs / 1000, 0)} s, ${first?.count ?? 0} requests, target p95 wait ${target} ms, hindsight lower bound ${fmt(comparison.lowerBoundWorkerSeconds, 0)} worker-s (x oracle = worker-s / bound)`;
  const rows = comparison.runs.map((run) => {
    const r = run.result;
    const scope = run.tuning?.mode === 'all-traces' ? 'on every trace' : 'on this trace';
    const note = run.tuning
      ? run.tuning.met
        ? `targetQueueLength ${run.tuning.chosen} (largest meeting the target ${scope})`
        : `no targetQueueLength met the target ${scope}; used ${run.tuning.chosen}`
      : '';
    return [
      run.policy,
      fmt(r.waitMs.p50, 1),
      fmt(r.waitMs.p95, 1),
      fmt(r.waitMs.p99, 1),
      fmt(r.overTargetPct, 2),
      run.meetsTarget ? 'yes' : 'NO',
      fmt(r.workerSeconds, 0),
      fmt(timesOracle(run, comparison), 2),
      String(r.scaleEvents),
      String(r.promotions),
      String(r.maxWorkers),
      fmt(r.meanWorkers, 1),
      note,
    ];
  });
  const header = ['policy', 'p50 ms', 'p95 ms', 'p99 ms', `>${target}ms %`, 'met', 'worker-s', 'x oracle', 'scale events', 'promotions', 'max workers', 'mean workers', ''];
  return `${title}\n${columns([header, ...rows], [0, header.length - 1])}`;
}

/** Per bucket: arrivals/s, then each policy's regular workers and p95 wait. */
export function formatTimeline(comparison: TraceComparison): string {
  const runs = comparison.runs;
  const length = Math.max(0, ...runs.map((r) => r.result.timeline.length));
  const header = ['t s', 'arrivals/s', ...runs.flatMap((r) => [`${r.policy} workers`, 'p95 ms'])];
  const rows: string[][] = [];
  for (let i = 0; i < length; i++) {
    const base = runs.find((r) => r.result.timeline[i])?.result.timeline[i];
    if (!base) continue;
    rows.push([
      fmt(base.startS, 0),
      fmt(base.arrivalsPerS, 1),
      ...runs.flatMap((r) => {
        const b = r.result.timeline[i];
        return [b ? String(b.workers) : '', b?.waitP95Ms === undefined ? '-' : fmt(b.waitP95Ms, 0)];
      }),
    ]);
  }
  return `timeline ${comparison.trace} (per ${bucketSeconds(comparison)} s bucket; workers = most regular workers at a control tick)\n${columns([header, ...rows])}`;
}

function bucketSeconds(comparison: TraceComparison): number {
  const t = comparison.runs[0]?.result.timeline;
  return t && t.length > 1 ? t[1]!.startS - t[0]!.startS : 5;
}

/** Numbers right-aligned; the columns listed in `left` (names, notes) left-aligned. */
export function columns(rows: string[][], left: readonly number[] = [0]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map((row) => row.map((cell, i) => (left.includes(i) ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ').trimEnd())
    .join('\n');
}

function fmt(n: number, digits: number): string {
  return n.toFixed(digits);
}

/** One line with what the tables depend on beyond the trace, so a pasted table says how it was made. */
export function formatSettings(options: CliOptions): string {
  const { base, scale } = options;
  const config = { ...comparisonConfig, ...base.config };
  const service = `service ${base.service?.meanMs ?? simulationDefaults.service.meanMs} ms${base.service?.cv === undefined ? '' : ` (cv ${base.service.cv})`}`;
  const start = base.startDelay ?? simulationDefaults.startDelay;
  const control = base.controlIntervalMs ?? simulationDefaults.controlIntervalMs;
  const metrics = base.metricsIntervalMs ?? simulationDefaults.metricsIntervalMs;
  return (
    `settings: rates x${scale}, ${service}, ${config.concurrency} per worker, workers ${config.min}..${config.max} + ${base.spares ?? simulationDefaults.spares} spare(s), ` +
    `steps +${config.maxStepUp}/-${config.maxStepDown}, ` +
    `start delay ${start.meanMs} ± ${start.jitterMs} ms, decisions every ${control} ms, metrics ${metrics > 0 ? `every ${metrics} ms` : 'at every decision'}, seed ${base.seed ?? simulationDefaults.seed}`
  );
}
