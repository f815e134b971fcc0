import { ConfigError } from './config.js';

/**
 * Runs a command's main function. A number it resolves with is the exit code;
 * nothing means a long-running process that exits by itself. A failure prints
 * one line and exits 2 for bad input (ConfigError), 1 otherwise.
 */
export function runMain(name: string, main: () => Promise<number | void>): void {
  main().then(
    (code) => {
      if (typeof code === 'number') process.exit(code);
    },
    (err: unknown) => {
      process.stderr.write(`${name}: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(err instanceof ConfigError ? 2 : 1);
    },
  );
}
