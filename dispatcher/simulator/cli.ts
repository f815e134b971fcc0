#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { errorMessage } from '../../infra/errors.js';
import { comparePolicies } from './compare.js';
import { parseCsvTrace, TraceFileError } from './csv-trace.js';
import { OptionsError, parseCliOptions, type RawFlags, type TraceSpec } from './options.js';
import { formatComparison, formatSettings, formatTimeline } from './table.js';
import { generateTrace } from './generator.js';
import { builtinTrace, scaleTrace, type Trace } from './traces.js';

/**
 * shoal-simulate: runs load traces through a simulated pool under each
 * scaling policy and compares queue wait against worker-seconds.
 * Exits 0 after printing, 2 on bad input.
 */
const program = new Command('shoal-simulate')
  .description('Compare scaling policies on load traces in a discrete-event simulation of a shoal pool.')
  .option('--trace <name>', 'step, bursts, diurnal, sparse, gen:<seed> (a generated trace), all, a comma-separated list, or csv:<path> (default all)')
  .option('--policy <name>', 'target-wait, latency-threshold, queue-length, all, or a comma-separated list (default all)')
  .option('--target-wait <duration>', 'p95 queue wait to stay under (default 200ms)')
  .option('--service-ms <ms>', 'mean service time per request (default 50)')
  .option('--service-cv <cv>', 'lognormal service times with this coefficient of variation (default: exponential)')
  .option('--concurrency <n>', 'requests one worker runs at once (default 4)')
  .option('--min <n>', 'fewest regular workers (default 1)')
  .option('--max <n>', 'most regular workers (default 50)')
  .option('--spares <n>', 'warm spare workers kept beside the pool (default 1)')
  .option('--start-delay <duration>', 'time for a worker to start consuming (default 450ms)')
  .option('--start-jitter <duration>', 'start delay is uniform in delay ± jitter (default 100ms)')
  .option('--scale <factor>', 'multiply every rate of the trace (default 1)')
  .option('--preset <name>', 'local (containers on one host, the default) or swarm (tasks on a cluster: start delay 2s ± 1s)')
  .option('--max-step-up <n>', 'workers added per decision at most, or the current count if larger (default 1000)')
  .option('--max-step-down <n>', 'workers that may go in one decision however small the pool (default 1; at most half the pool goes at once)')
  .option('--scale-interval <duration>', 'how often the policy decides (default 250ms)')
  .option('--burst-memory <duration>', 'adaptive spares: warm headroom for the largest surge seen within this long (default 0s: off)')
  .option('--metrics-interval <duration>', 'how often its inputs are refreshed; between refreshes it sees the last sample (default: every decision)')
  .option('--seed <n>', 'random seed; the same seed gives the same result (default 1)')
  .option('--timeline', 'print arrivals, workers and p95 wait per 5 s bucket')
  .option('--tune-per-trace', 'tune the queue-length baseline for each trace on its own (hindsight) instead of one setting for all traces')
  .option('--oracle', 'add the feasible oracle (knows the trace, starts workers ahead of need) as a row of every table')
  .option('--json', 'print the results as JSON on stdout')
  .showHelpAfterError()
  // Commander has printed its message; the exit code is ours (2 for bad input).
  .exitOverride();

function loadTrace(spec: TraceSpec): Trace {
  if (spec.kind === 'builtin') return builtinTrace(spec.name);
  if (spec.kind === 'generated') return generateTrace(spec.seed);
  let text: string;
  try {
    text = readFileSync(spec.path, 'utf8');
  } catch (err) {
    throw new OptionsError([`--trace csv:${spec.path}: cannot read the file (${errorMessage(err)})`]);
  }
  return parseCsvTrace(text, spec.path);
}

function main(): void {
  program.parse();
  const options = parseCliOptions(program.opts<RawFlags>());
  const traces = options.traces.map((spec) => scaleTrace(loadTrace(spec), options.scale));
  const started = performance.now();
  const comparisons = comparePolicies(traces, options.policies, options.base, options.tuning, options.oracle);
  const seconds = (performance.now() - started) / 1000;

  if (options.json) {
    process.stdout.write(`${JSON.stringify({ scale: options.scale, comparisons }, null, 2)}\n`);
  } else {
    const sections = comparisons.map((c) => (options.timeline ? `${formatComparison(c)}\n\n${formatTimeline(c)}` : formatComparison(c)));
    process.stdout.write(`${formatSettings(options)}\n\n${sections.join('\n\n')}\n`);
  }
  process.stderr.write(`shoal-simulate: simulated in ${seconds.toFixed(1)} s\n`);
}

try {
  main();
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2);
  for (const line of errorMessage(err).split('\n')) process.stderr.write(`shoal-simulate: ${line}\n`);
  process.exit(err instanceof OptionsError || err instanceof TraceFileError ? 2 : 1);
}
