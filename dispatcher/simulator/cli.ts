#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { CommanderError } from 'commander';
import { errorMessage } from '../../infra/errors.js';
import { comparePolicies } from './compare.js';
import { parseCsvTrace, TraceFileError } from './csv-trace.js';
import { OptionsError, parseCliOptions, type RawFlags, type TraceSpec } from './options.js';
import { simulateCommand } from './flags.js';
import { formatComparison, formatSettings, formatTimeline } from './table.js';
import { generateTrace } from './generator.js';
import { builtinTrace, scaleTrace, type Trace } from './traces.js';

/**
 * shoal-simulate: runs load traces through a simulated pool under each
 * scaling policy and compares queue wait against worker-seconds.
 * Exits 0 after printing, 2 on bad input.
 */
const program = simulateCommand();

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
