import type { Command } from 'commander';
import { ConfigError, describeSetting, type Settings } from './config.js';

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

/**
 * Adds a command's flags from its settings table, so that the flag, its
 * variable, its default and its help come from one place. Settings without a
 * flag or a help line are environment-only.
 */
export function addSettingFlags(command: Command, settings: Settings): Command {
  for (const setting of Object.values(settings)) {
    if (!setting.flag || !setting.help) continue;
    const { placeholder, shownDefault } = describeSetting(setting);
    const name = setting.short ? `${setting.short}, ${setting.flag}` : setting.flag;
    const value = setting.placeholder ?? placeholder;
    const usage = value ? `${name} ${value}` : name;
    const shown = shownDefault === undefined ? '' : `; default ${shownDefault}`;
    command.option(usage, `${setting.help} (${setting.env}${shown})`);
  }
  return command;
}
