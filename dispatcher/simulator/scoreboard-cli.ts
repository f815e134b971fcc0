#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { errorMessage } from '../../infra/errors.js';
import { OptionsError, type RawFlags } from './options.js';
import { runScoreboard } from './scoreboard-run.js';
import { parseScoreboardOptions } from './scoreboard-options.js';
import { formatScoreboard, formatScoreboardSettings } from './scoreboard-table.js';

/**
 * shoal-scoreboard: every policy on many generated traces (gen-<seed>), at
 * several scales and service-time cvs, against the hindsight lower bound and
 * the feasible oracle. Exits 0 after printing, 2 on bad input.
 */
const program = new Command('shoal-scoreboard')
  .description('Score the scaling policies on a family of generated traces, at several scales and service-time cvs, against an oracle.')
  .option('--seeds <n>', 'generated traces per (scale, cv) (default 6)')
  .option('--seeds-x100 <n>', 'of those, how many at scales of 100 and above, where a run costs 100x (default 2)')
  .option('--first-seed <n>', 'the traces are gen-<first-seed>, gen-<first-seed + 1>, ... (default 1)')
  .option('--scales <list>', 'rate multipliers, comma-separated (default 1,10,100)')
  .option('--cv <list>', 'service-time coefficients of variation, lognormal, comma-separated (default 0.5,1,2)')
  .option('--policy <names>', 'target-wait, queue-length, latency-threshold, or all (default all)')
  .option('--duration <duration>', 'fix every trace to this length (default: 180-240 s, drawn from the seed)')
  .option('--bound-quantile <q>', 'the wait quantile the lower bound and the oracle size to the target (default 0.95; 0.99 matches the 99 % pass mark)')
  .option('--quick', 'a small run for tests: x1, cv 1, 2 seeds of 60 s (other flags still apply)')
  .option('--threads <n>', 'worker threads to spread the runs over (default: 2, or 1 on a 1-core machine)')
  .option('--target-wait <duration>', 'p95 queue wait to stay under (default 200ms)')
  .option('--service-ms <ms>', 'mean service time per request (default 50)')
  .option('--concurrency <n>', 'requests one worker runs at once (default 4)')
  .option('--min <n>', 'fewest regular workers (default 1)')
  .option('--max <n>', 'most regular workers at x1; multiplied by the scale (default 50)')
  .option('--spares <n>', 'warm spare workers kept beside the pool (default 1)')
  .option('--start-delay <duration>', 'time for a worker to start consuming (default 450ms)')
  .option('--start-jitter <duration>', 'start delay is uniform in delay ± jitter (default 100ms)')
  .option('--preset <name>', 'local (default) or swarm (start delay 2s ± 1s)')
  .option('--scale-interval <duration>', 'how often the policy decides (default 1s)')
  .option('--burst-memory <duration>', 'adaptive spares: warm headroom for the largest surge seen within this long (default 0s: off)')
  .option('--metrics-interval <duration>', 'how often its inputs are refreshed (default: every decision)')
  .option('--json', 'print the results as JSON on stdout')
  .showHelpAfterError()
  .exitOverride();

async function main(): Promise<void> {
  program.parse();
  const { options, threads, json } = parseScoreboardOptions(program.opts<RawFlags>());
  const started = performance.now();
  const progress = process.stderr.isTTY
    ? (done: number, total: number) => process.stderr.write(`\rshoal-scoreboard: ${done}/${total} jobs${done === total ? '\n' : ''}`)
    : undefined;
  const cells = await runScoreboard(options, { threads, ...(progress ? { onProgress: progress } : {}) });
  const seconds = (performance.now() - started) / 1000;

  if (json) {
    process.stdout.write(`${JSON.stringify({ options, threads, elapsedSeconds: seconds, cells }, null, 2)}\n`);
  } else {
    process.stdout.write(`${formatScoreboardSettings(options)}\n\n${formatScoreboard(cells)}\n\nelapsed ${seconds.toFixed(1)} s on ${threads} thread(s)\n`);
  }
}

main().catch((err: unknown) => {
  if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2);
  for (const line of errorMessage(err).split('\n')) process.stderr.write(`shoal-scoreboard: ${line}\n`);
  process.exit(err instanceof OptionsError ? 2 : 1);
});
