#!/usr/bin/env node
import { CommanderError } from 'commander';
import { errorMessage } from '../../infra/errors.js';
import { OptionsError, type RawFlags } from './options.js';
import { runScoreboard } from './scoreboard-run.js';
import { parseScoreboardOptions, scoreboardCommand } from './scoreboard-options.js';
import { formatScoreboard, formatScoreboardSettings } from './scoreboard-table.js';

/**
 * shoal-scoreboard: every policy on many generated traces (gen-<seed>), at
 * several scales and service-time cvs, against the hindsight lower bound and
 * the feasible oracle. Exits 0 after printing, 2 on bad input.
 */
const program = scoreboardCommand();

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
