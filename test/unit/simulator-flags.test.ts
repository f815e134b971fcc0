import { CommanderError, type Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { comparisonConfig, simulationDefaults } from '../../dispatcher/simulator/defaults.js';
import { flagName, poolFlags, simulateCommand, simulateFlags } from '../../dispatcher/simulator/flags.js';
import { parseCliOptions, type RawFlags } from '../../dispatcher/simulator/options.js';
import { parseScoreboardOptions, scoreboardCommand, scoreboardFlags } from '../../dispatcher/simulator/scoreboard-options.js';

/** Parses a command line as the CLI does, with commander's own messages kept off the test's output. */
function parse(command: Command, argv: string[]): RawFlags {
  command.configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  return command.parse(argv, { from: 'user' }).opts<RawFlags>();
}

/** commander's help with its padding and line wrapping undone, so that a help line can be matched whole. */
const helpOf = (command: Command) => command.helpInformation().replace(/\s+/g, ' ');

describe('simulator flags', () => {
  it('a table key is the key commander gives its flag', () => {
    expect(['maxStepUp', 'seedsX100', 'tunePerTrace', 'min'].map(flagName)).toEqual(['--max-step-up', '--seeds-x100', '--tune-per-trace', '--min']);
  });

  it('shoal-simulate offers every flag of its table, with the defaults the parser falls back to', () => {
    const help = helpOf(simulateCommand());
    for (const key of Object.keys(simulateFlags)) expect(help).toContain(flagName(key));
    expect(help).toContain(`--scale-interval <duration> how often the policy decides (default ${simulationDefaults.controlIntervalMs}ms)`);
    expect(help).toContain(`--concurrency <n> requests one worker runs at once (default ${comparisonConfig.concurrency})`);
    const parsed = parseCliOptions(parse(simulateCommand(), []));
    expect(parsed.base.controlIntervalMs).toBe(simulationDefaults.controlIntervalMs);
    expect(parsed.base.config?.concurrency).toBe(comparisonConfig.concurrency);
  });

  it('shoal-scoreboard shows the pool flags as shoal-simulate does (one table, one default)', () => {
    const help = helpOf(scoreboardCommand());
    for (const key of Object.keys(scoreboardFlags)) expect(help).toContain(flagName(key));
    for (const key of ['targetWait', 'scaleInterval', 'startDelay', 'burstMemory'] as const) {
      const line = `${flagName(key)} ${poolFlags[key].value} ${poolFlags[key].help} (default ${poolFlags[key].default})`;
      expect(help).toContain(line);
      expect(helpOf(simulateCommand())).toContain(line);
    }
  });

  it('parses a real command line; an unknown flag or a missing value is commander\'s error, a bad value names the flag', () => {
    const flags = parse(simulateCommand(), ['--trace', 'step', '--max-step-up', '20', '--oracle', '--target-wait', '0.5s']);
    const options = parseCliOptions(flags);
    expect(options.traces).toEqual([{ kind: 'builtin', name: 'step' }]);
    expect(options.base.config).toMatchObject({ maxStepUp: 20, targetWaitP95Ms: 500 });
    expect(options.oracle).toBe(true);

    expect(() => parse(simulateCommand(), ['--bogus'])).toThrow(CommanderError);
    expect(() => parse(simulateCommand(), ['--bogus'])).toThrow("unknown option '--bogus'");
    expect(() => parse(scoreboardCommand(), ['--seeds'])).toThrow("option '--seeds <n>' argument missing");
    // The scoreboard takes no trace: the trace family is its own.
    expect(() => parse(scoreboardCommand(), ['--trace', 'step'])).toThrow("unknown option '--trace'");

    expect(() => parseCliOptions(parse(simulateCommand(), ['--concurrency', '0']))).toThrow('--concurrency must be a whole number from 1 to 1000 (got "0")');
    expect(() => parseScoreboardOptions(parse(scoreboardCommand(), ['--seeds-x100', 'x', '--quick']))).toThrow('--seeds-x100 must be a whole number from 1 to 1000 (got "x")');
  });
});
